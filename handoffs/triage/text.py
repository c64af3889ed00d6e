"""Reading a message's words tolerantly: case, apostrophes, punctuation and spacing do not
matter, and phrases match whole words only ("stop" is not in "stopwatch"). Pure Python."""

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
_SHOUTED = re.compile(r"\b[A-Z]{3,}(?:'[A-Z]+)?\b")
# Capitals that are names, not shouting.
_ACRONYMS = wordset(
    """
    API APIS ASAP BST CEO CRM CSV DPA EOD EST FAQ GBP GDPR GMT HMRC HTML HTTP HTTPS IBAN ISO
    NDA NHS PDF PIN PST SLA SMS SOC SSO TBC UAE USA USD UTC VAT VIP VPN URL EUR AWS SAML CET
    """
)
# Courtesy words around a whole-message phrase: "STOP please", "unsubscribe, thanks".
_FILLER = wordset("please pls plz thanks thank you thx ta now ok okay")
# A word before a positive phrase that turns it round: "not interested", "never sounds good".
_NEGATIONS = wordset("not no never dont doesnt didnt isnt arent wasnt wont cant cannot neither nor")
_QUESTION_WORDS = wordset(
    "what whats how hows when where wheres why who whos which whose can could do does did is "
    "are was will would should shall may might have has any anyone"
)
_QUESTION_LEADS = (
    ("i", "wonder"),
    ("i", "was", "wondering"),
    ("wondering",),
    ("i", "need"),
    ("we", "need"),
    ("please", "confirm"),
    ("please", "send"),
    ("please", "advise"),
    ("i", "want", "to", "know"),
    ("id", "like", "to", "know"),
    ("we", "would", "like"),
    ("wed", "like"),
)


def normalise(text: str) -> str:
    """NFKC (full-width letters), one kind of apostrophe, case-folded."""
    return unicodedata.normalize("NFKC", text[:MAX_CHARS]).translate(_APOSTROPHES).casefold()


def words(text: str) -> tuple[str, ...]:
    return tuple(word.replace("'", "") for word in _WORD.findall(normalise(text)))


def find_phrase(
    tokens: tuple[str, ...], phrase: tuple[str, ...], *, whole_message: bool, negatable: bool
) -> bool:
    """Whether `phrase` occurs in `tokens` as whole words (or is the whole message, courtesy
    words aside). A `negatable` phrase does not count right after a negation."""
    if not phrase:
        return False
    if whole_message:
        core = list(tokens)
        while core and (core[0] in _FILLER or _is_emoji(core[0])):
            core.pop(0)
        while core and (core[-1] in _FILLER or _is_emoji(core[-1])):
            core.pop()
        return tuple(core) == phrase
    size = len(phrase)
    for start in range(len(tokens) - size + 1):
        if tokens[start : start + size] != phrase:
            continue
        if negatable and any(t in _NEGATIONS for t in tokens[max(0, start - 2) : start]):
            continue
        return True
    return False


def _is_emoji(token: str) -> bool:
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


def is_question(text: str, tokens: tuple[str, ...]) -> bool:
    """A question: a sentence ending in "?", or a message opening with a question word. A lone
    word ("hello?") is not a question worth a specialist."""
    if len(tokens) < 2:
        return False
    if "?" in text[:MAX_CHARS]:
        return True
    if tokens[0] in _QUESTION_WORDS:
        return True
    return any(tokens[: len(lead)] == lead for lead in _QUESTION_LEADS)
