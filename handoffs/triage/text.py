"""Reading a message's words tolerantly. Pure Python.

`words()` is the one normaliser everything uses (phrase patterns, question detection, the FAQ
ranker), so a phrase ops write and a message a contact sends are read the same way:

- case, full-width letters, curly apostrophes and punctuation do not matter; each emoji is a
  word of its own ("😡");
- apostrophes are dropped ("don't" = "dont") and the two-word forms join the same way
  ("do not" = "dont", "I am" = "im"), so one phrase covers both;
- letters held for emphasis are cut back ("soooo" = "so", "goood" = "good"; patterns also
  ignore doubled letters in longer words, see `patterns.key`);
- common txt-speak reads as the word it stands for ("u" = "you", "pls" = "please",
  "msg" = "message", "idk" = "i dont know").
"""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 2000  # characters read from a message; the rest is ignored


def wordset(text: str) -> frozenset[str]:
    """Word lists are written as one string to keep them readable."""
    return frozenset(text.split())


_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
# Words are letters and digits (any script), with inner apostrophes dropped ("don't" = "dont");
# each emoji is a word of its own ("😡").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_HELD = re.compile(r"([^\W\d_])\1{2,}")  # a letter three or more times in a row
_HELD_AT_END = re.compile(r"([^\W\d_])\1{2,}$")
_SHOUTED = re.compile(r"\b[A-Z]{3,}(?:'[A-Z]+)?\b")
# Capitals that are names, not shouting.
_ACRONYMS = wordset(
    """
    API APIS ASAP BST CEO CRM CSV DPA EOD EST FAQ GBP GDPR GMT HMRC HTML HTTP HTTPS IBAN ISO
    NDA NHS PDF PIN PST SLA SMS SOC SSO TBC UAE USA USD UTC VAT VIP VPN URL EUR AWS SAML CET
    CFO CTO COO CIO MSA SOW RFP HIPAA SCIM LDAP MFA OTP IOS PAYG ETA
    """
)

# Txt-speak and abbreviations → the words they stand for (both sides of every comparison).
_SPEAK: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(["u", "yu"], ("you",)),
    **dict.fromkeys(["ur", "yr"], ("your",)),
    "r": ("are",),
    **dict.fromkeys(["pls", "plz", "plse", "pleas", "pleasee"], ("please",)),
    **dict.fromkeys(["thx", "thnx", "thanx", "ty", "tnx", "thks", "tks"], ("thanks",)),
    **dict.fromkeys(["msg", "mssg", "msge"], ("message",)),
    **dict.fromkeys(["msgs", "mssgs"], ("messages",)),
    **dict.fromkeys(["msging", "msgng", "messagin"], ("messaging",)),
    "msged": ("messaged",),
    "txt": ("text",),
    "txts": ("texts",),
    **dict.fromkeys(["txting", "textin", "txtin"], ("texting",)),
    "txted": ("texted",),
    **dict.fromkeys(["tmrw", "tmr", "tmw", "2moro", "2morrow", "tomoz"], ("tomorrow",)),
    **dict.fromkeys(["wat", "wot", "wht"], ("what",)),
    **dict.fromkeys(["whats", "wats", "wots"], ("whats",)),
    **dict.fromkeys(["cud", "cld"], ("could",)),
    **dict.fromkeys(["wud", "wld"], ("would",)),
    **dict.fromkeys(["shud", "shld"], ("should",)),
    "dnt": ("dont",),
    **dict.fromkeys(["cant", "cnnot", "cannot"], ("cant",)),
    "aint": ("isnt",),
    **dict.fromkeys(["yh", "yeh", "yea", "yep", "yup", "yas"], ("yes",)),
    **dict.fromkeys(["nah", "nope", "naw"], ("no",)),
    **dict.fromkeys(["k", "kk", "okey", "okie", "oki", "okok"], ("ok",)),
    **dict.fromkeys(["sry", "soz", "sorri"], ("sorry",)),
    **dict.fromkeys(["ppl", "peeps"], ("people",)),
    **dict.fromkeys(["abt", "bout"], ("about",)),
    **dict.fromkeys(["cos", "coz", "cuz", "bc", "bcos", "bcoz"], ("because",)),
    "b4": ("before",),
    "gd": ("good",),
    "gr8": ("great",),
    **dict.fromkeys(["luv", "lurve"], ("love",)),
    **dict.fromkeys(["wk", "wks"], ("week",)),
    "hrs": ("hours",),
    "mins": ("minutes",),
    **dict.fromkeys(["pw", "pwd", "passwd"], ("password",)),
    **dict.fromkeys(["acc", "acct"], ("account",)),
    "appt": ("appointment",),
    "mgr": ("manager",),
    "info": ("information",),
    "idk": ("i", "dont", "know"),
    "dunno": ("dont", "know"),
    "nvm": ("never", "mind"),
    "rn": ("right", "now"),
    "atm": ("at", "the", "moment"),
    "wanna": ("want", "to"),
    "gonna": ("going", "to"),
    "gotta": ("got", "to"),
    "lemme": ("let", "me"),
    "unsub": ("unsubscribe",),
    "optout": ("opt", "out"),
    "stopall": ("stop", "all"),
}
# Two-word forms joined the way the apostrophe-less contraction reads ("do not" = "dont").
_JOINED: dict[tuple[str, str], str] = {
    ("do", "not"): "dont",
    ("does", "not"): "doesnt",
    ("did", "not"): "didnt",
    ("can", "not"): "cant",
    ("will", "not"): "wont",
    ("would", "not"): "wouldnt",
    ("could", "not"): "couldnt",
    ("should", "not"): "shouldnt",
    ("is", "not"): "isnt",
    ("are", "not"): "arent",
    ("was", "not"): "wasnt",
    ("were", "not"): "werent",
    ("have", "not"): "havent",
    ("has", "not"): "hasnt",
    ("had", "not"): "hadnt",
    ("i", "am"): "im",
    ("i", "have"): "ive",
    ("i", "would"): "id",
    ("that", "is"): "thats",
    ("what", "is"): "whats",
    ("who", "is"): "whos",
    ("let", "us"): "lets",
}

# Courtesy words around a whole-message phrase: "STOP please", "unsubscribe, thanks".
FILLER = wordset("please thanks thank you ta now ok cheers mate")
# A word before a phrase that turns it round: "not interested", "never sounds good".
NEGATIONS = wordset(
    """
    not no never dont doesnt didnt isnt arent wasnt werent wont wouldnt cant couldnt shouldnt
    havent hasnt hadnt neither nor without
    """
)
# Openers that do not change what a clause is: "hi, can you…", "ok so how do I…".
_LEADING = wordset(
    """
    hi hello hey hiya heya dear morning afternoon evening ok so and also but sorry thanks
    just um erm hmm btw quick question one more thing oh yes no again then well excuse me
    please right
    """
)
_WH_WORDS = wordset("what whats how hows when where wheres why who whos which whose whom")
_AUXILIARIES = wordset(
    "can could do does did is are was were will would should shall may might have has am"
)
# After an auxiliary, a question names who or what it is about ("do you…", "is there…").
_SUBJECTS = wordset(
    """
    i you we they he she it this that there these those my your our their the a an someone
    somebody anyone anybody everyone anything something me us
    """
)
_QUESTION_LEADS = (
    ("i", "wonder"),
    ("i", "was", "wondering"),
    ("was", "wondering"),
    ("wondering",),
    ("i", "need"),
    ("we", "need"),
    ("please", "confirm"),
    ("please", "send"),
    ("please", "advise"),
    ("please", "explain"),
    ("please", "let", "me", "know"),
    ("i", "want", "to", "know"),
    ("id", "like", "to", "know"),
    ("i", "would", "like", "to", "know"),
    ("we", "would", "like"),
    ("wed", "like"),
    ("any", "idea"),
    ("any", "chance"),
    ("how", "come"),
    ("is", "it", "possible"),
    ("tell", "me"),
)
_CLAUSE = re.compile(r"[.!?;:\n,()\u2013\u2014]+|\s-\s")  # where a new clause may start


def normalise(text: str) -> str:
    """NFKC (full-width letters), one kind of apostrophe, case-folded."""
    return unicodedata.normalize("NFKC", text[:MAX_CHARS]).translate(_APOSTROPHES).casefold()


def words(text: str) -> tuple[str, ...]:
    """The message as the words triage compares (see the module docstring)."""
    raw = [_unhold(w.replace("'", "")) for w in _WORD.findall(normalise(text))]
    spoken: list[str] = []
    for word in raw:
        spoken.extend(_SPEAK.get(word, (word,)))
    joined: list[str] = []
    for word in spoken:
        if joined and (joined[-1], word) in _JOINED:
            joined[-1] = _JOINED[(joined[-1], word)]
        else:
            joined.append(word)
    return tuple(joined)


def _unhold(word: str) -> str:
    """Letters held for emphasis: at the end of a word they stand for one letter ("sooo" = "so",
    "yesss" = "yes", "pleaseee" = "please"), inside it for two ("goood" = "good")."""
    word = _HELD_AT_END.sub(r"\1", word)
    return _HELD.sub(r"\1\1", word)


def is_emoji(token: str) -> bool:
    return len(token) == 1 and not token.isalnum()


def shouted(text: str) -> str:
    """The first word written in capitals for emphasis ("I DON'T want…", "AGAIN"), if any; a
    message written all in capitals is a habit, not shouting."""
    letters = [ch for ch in text[:MAX_CHARS] if ch.isalpha()]
    if not letters or all(ch.isupper() for ch in letters):
        return ""
    for match in _SHOUTED.finditer(text[:MAX_CHARS]):
        if match.group().replace("'", "") not in _ACRONYMS:
            return match.group()
    return ""


def only_question_marks(text: str) -> bool:
    """ "??" on its own: the contact did not follow."""
    stripped = "".join(text.split())
    return bool(stripped) and set(stripped) <= {"?", "!"} and "?" in stripped


_REFERENCE = re.compile(
    r"#\s?\d{3,}\b"
    r"|\b(?:order|ref|reference|ticket|case|invoice|booking|account|acct|tracking|parcel|"
    r"consignment|claim)\s*(?:no\.?|nr\.?|number|num|id|#)?\s*[:#]?\s*[a-z]{0,4}-?\d{4,}\b",
    re.IGNORECASE,
)


def reference(text: str) -> str:
    """An order, ticket or invoice number quoted in the message ("order 48213", "#5521",
    "ticket no. CS-20931"): a question about it is about this contact's own case."""
    found = _REFERENCE.search(text[:MAX_CHARS])
    return " ".join(found.group().split()) if found else ""


def is_question(text: str, tokens: tuple[str, ...]) -> bool:
    """A question: a "?" anywhere, or a clause that opens (greetings and fillers aside) with a
    question word ("hey how do i…"), an auxiliary before its subject ("do you…", "can i…";
    not "will do") or a lead such as "I was wondering". A lone word ("hello?") is not a
    question worth a specialist."""
    if len(tokens) < 2:
        return False
    if "?" in text[:MAX_CHARS]:
        return True
    return any(_opens_a_question(words(clause)) for clause in _CLAUSE.split(text[:MAX_CHARS]))


def _opens_a_question(clause: tuple[str, ...]) -> bool:
    start = 0
    while start < len(clause) and clause[start] in _LEADING:
        start += 1
    rest = clause[start:]
    if len(rest) < 2:
        return False
    if rest[0] in _WH_WORDS:
        return True
    if rest[0] in _AUXILIARIES and rest[1] in _SUBJECTS:
        return True
    return any(rest[: len(lead)] == lead for lead in _QUESTION_LEADS)
