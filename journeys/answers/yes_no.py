"""Reading a yes/no answer: yes and no words, idioms, emoji and negations.

"no problem" is a yes; "not sure" is neither, so the runner asks again.
"""

from __future__ import annotations

from journeys.answers.common import (
    _UNSURE,
    Parsed,
    _has_phrase,
    _phrases,
    _shown,
    _tokens,
    _wordlist,
)

# ---- yes / no -------------------------------------------------------------------------------

_YES_WORDS = frozenset(
    _wordlist(
        "yes y yep yeah yea yah ya yup yupp yess aye sure ok okay correct definitely absolutely "
        "certainly indeed affirmative true right"
    )
)
_NO_WORDS = frozenset(_wordlist("no n nope nah nay never negative false"))
_YES_PHRASES = _phrases(
    "of course",
    "i do",
    "i have",
    "i've",
    "ive",
    "i've got",
    "have one",
    "got one",
    "i can",
    "think so",
    "for sure",
    "that's right",
    "thats right",
    # positive intent: a "yes" to "shall we talk?" that never says yes
    "sounds good",
    "sounds great",
    "interested",
    "count me in",
    "let's do it",
    "lets do it",
    "call me",
    "go ahead",
    "please do",
)
# Idioms that contain "no"/"not" but mean yes; removed before looking for a negation.
_YES_IDIOMS = _phrases(
    "no problem",
    "no worries",
    "no doubt",
    "not a problem",
    "why not",
    "no question",
)
_NEGATIONS = frozenset(
    _wordlist(
        "no n not nope nah nay never none neither nor without cannot negative false nothing "
        "dont doesnt didnt havent hasnt hadnt isnt arent wasnt werent wont cant couldnt "
        "shouldnt wouldnt aint"
    )
)
_YES_EMOJI = ("👍", "✅", "✔", "☑", "👌")
_NO_EMOJI = ("👎", "❌", "✖", "🚫")


def _without_idioms(tokens: list[str]) -> tuple[list[str], bool]:
    """Drop yes-idioms ("no problem"); return the rest and whether any was found."""
    kept: list[str] = []
    found = False
    i = 0
    while i < len(tokens):
        idiom = next(
            (p for p in _YES_IDIOMS if tuple(tokens[i : i + len(p)]) == p),
            None,
        )
        if idiom:
            found = True
            i += len(idiom)
        else:
            kept.append(tokens[i])
            i += 1
    return kept, found


def _is_negation(token: str) -> bool:
    return token in _NEGATIONS or token.endswith("n't")


def _yes_no(raw: str, text: str) -> Parsed:
    tokens = _tokens(text)
    if _has_phrase(tokens, _UNSURE):
        return Parsed(False, None, f"no yes/no in '{_shown(raw)}'")
    yes_emoji = any(mark in text for mark in _YES_EMOJI)
    no_emoji = any(mark in text for mark in _NO_EMOJI)
    tokens, idiom = _without_idioms(tokens)
    head = tokens[:3]
    mixed_start = any(t in _YES_WORDS for t in head) and any(t in _NO_WORDS for t in head)
    if mixed_start or (yes_emoji and no_emoji):
        return Parsed(False, None, f"both yes and no in '{_shown(raw)}'")
    if no_emoji or any(_is_negation(token) for token in tokens):
        return Parsed(True, False)
    if yes_emoji or idiom or any(t in _YES_WORDS for t in tokens):
        return Parsed(True, True)
    if _has_phrase(tokens, _YES_PHRASES):
        return Parsed(True, True)
    return Parsed(False, None, f"no yes/no in '{_shown(raw)}'")
