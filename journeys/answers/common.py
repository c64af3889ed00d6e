"""What every kind of answer shares: the `Parsed` result, the limits, and normalising and
tokenising a reply (plus the "I don't know" phrases no kind of answer accepts).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Expect = Literal["yes_no", "number", "years", "weeks", "text"]
EXPECTATIONS: tuple[str, ...] = ("yes_no", "number", "years", "weeks", "text")

MAX_INPUT = 2000  # characters read from a reply; the rest is ignored
MAX_TEXT = 1000  # characters kept for a `text` answer
# Beyond these a reading is more likely a date or a typo ("since 2019") than a duration.
MAX_YEARS = 80
MAX_WEEKS = 520


@dataclass(frozen=True)
class Parsed:
    """The reading of one reply: `ok` says whether it was understood, `why` says why not."""

    ok: bool
    value: bool | int | float | str | None
    why: str = ""


# ---- normalising ----------------------------------------------------------------------------

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_TOKEN = re.compile(r"[0-9]+(?:[.,][0-9]+)*|\.[0-9]+|[a-z]+(?:'[a-z]+)*|[-+<>~/]", re.ASCII)
_ELONGATED = re.compile(r"([a-z])\1{2,}", re.ASCII)  # "yesss", "nooo"


def _normalise(text: str) -> str:
    """Lower-case, unify apostrophes and compatibility characters (full-width digits)."""
    text = unicodedata.normalize("NFKC", text[:MAX_INPUT]).translate(_APOSTROPHES)
    return text.casefold()


def _tokens(text: str) -> list[str]:
    return [_ELONGATED.sub(r"\1", token) for token in _TOKEN.findall(text)]


def _shown(text: str) -> str:
    """A short, single-line quote of the reply for `why`."""
    flat = " ".join(text.split())
    return flat if len(flat) <= 40 else flat[:39] + "…"


def _has_phrase(tokens: list[str], phrases: frozenset[tuple[str, ...]]) -> bool:
    for phrase in phrases:
        size = len(phrase)
        if any(tuple(tokens[i : i + size]) == phrase for i in range(len(tokens) - size + 1)):
            return True
    return False


def _wordlist(text: str) -> list[str]:
    """Word lists are written as one string to keep the vocabularies readable."""
    return text.split()


def _phrases(*texts: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(text.split()) for text in texts)


# Replies that are neither yes nor no, whatever other words they contain ("I don't know").
_UNSURE = _phrases(
    "maybe",
    "perhaps",
    "possibly",
    "probably",
    "unsure",
    "not sure",
    "not certain",
    "don't know",
    "dont know",
    "do not know",
    "no idea",
    "idk",
    "dunno",
    "depends",
    "it depends",
    "not really sure",
)
