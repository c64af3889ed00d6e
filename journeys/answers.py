"""Tolerant reading of free-text answers to a journey's questions (SMS, WhatsApp, chat).

People answer "do you have a visa?" with "yep 👍", "no, not yet" or "what visa?", and "how much
experience?" with "a couple of years" or "18 months". This module turns such replies into a value
the journey can check, or says plainly that it could not, so the runner can re-ask once instead
of guessing. It is pure Python (no Django, no ORM) and never raises: every string, however odd or
long, gets a `Parsed`. Work is bounded because input is truncated before it is read and every
pattern is fixed (never built from input).
"""

from __future__ import annotations

import math
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


# ---- numbers and durations ------------------------------------------------------------------

_SMALL = {
    word: index
    for index, word in enumerate(
        _wordlist(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
_SMALL |= {"nil": 0, "nought": 0}
_TENS = {
    word: 10 * (index + 2)
    for index, word in enumerate(_wordlist("twenty thirty forty fifty sixty seventy eighty ninety"))
}
_BIG = {"thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
# Multipliers written after a number: "50k", "1.5m", "50 grand". "m" is months for durations.
_SCALES = {
    "hundred": 100,
    "k": 1000,
    "thousand": 1000,
    "grand": 1000,
    "m": 1_000_000,
    "mil": 1_000_000,
    "mn": 1_000_000,
    "million": 1_000_000,
    "bn": 1_000_000_000,
    "billion": 1_000_000_000,
}
_VAGUE = {"couple": 2, "few": 3, "several": 3, "dozen": 12}
# Duration units in years.
_UNIT_YEARS = {
    **dict.fromkeys(_wordlist("year years yr yrs y"), 1.0),
    **dict.fromkeys(_wordlist("month months mo mos mth mths mnth mnths m"), 1 / 12),
    **dict.fromkeys(_wordlist("fortnight fortnights"), 2 / 52),
    **dict.fromkeys(_wordlist("week weeks wk wks w"), 1 / 52),
    **dict.fromkeys(_wordlist("day days d"), 1 / 365),
    **dict.fromkeys(_wordlist("hour hours hr hrs h"), 1 / 8760),
}
# Duration units in weeks: a month counts as 4 weeks, as notice periods are usually quoted.
_UNIT_WEEKS = {
    **dict.fromkeys(_wordlist("year years yr yrs y"), 52.0),
    **dict.fromkeys(_wordlist("month months mo mos mth mths mnth mnths m"), 4.0),
    **dict.fromkeys(_wordlist("fortnight fortnights"), 2.0),
    **dict.fromkeys(_wordlist("week weeks wk wks w"), 1.0),
    **dict.fromkeys(_wordlist("day days d"), 1 / 7),
    **dict.fromkeys(_wordlist("hour hours hr hrs h"), 1 / 168),
}
_RANGE = frozenset({"-", "to", "or", "/"})
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?", re.ASCII)
_DECIMAL_COMMA = re.compile(r"[0-9]+,[0-9]{1,2}", re.ASCII)
_PLAIN = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+", re.ASCII)

_ZERO_YEARS = _phrases("none", "nothing", "never", "no", "nope", "nah", "not any")
_ZERO_WEEKS = _phrases(
    "none",
    "nothing",
    "no",
    "immediately",
    "immediate",
    "now",
    "asap",
    "today",
    "straight away",
    "straightaway",
    "right away",
    "unemployed",
)
_ZERO_NUMBER = _phrases("none", "nothing", "no")


@dataclass
class _Quantity:
    value: float
    unit: str | None  # a duration unit word, when one follows the number
    scale: float  # the multiplier written after it (1 when none)
    start: int
    end: int  # token index just past the quantity


def _digits(token: str) -> float | None:
    """Read "50,000", "1,5" (a decimal comma), "1.5" or ".5"; None when there is no number."""
    if _GROUPED.fullmatch(token):
        text = token.replace(",", "")
    elif _DECIMAL_COMMA.fullmatch(token):
        text = token.replace(",", ".")
    elif _PLAIN.fullmatch(token):
        text = token
    else:  # "1.2.3": read the leading number
        match = _PLAIN.match(token.replace(",", "."))
        if not match:
            return None
        text = match.group()
    return float(text)  # may be inf for absurdly long digit runs; callers check _finite


def _words(
    tokens: list[str], i: int, current: float = 0.0, last: str = ""
) -> tuple[float, int] | None:
    """Read a number written in words from tokens[i]: "twenty five", "one hundred and five".

    `current`/`last` seed the reading when a word before it counted ("a hundred").
    """
    total = 0.0
    j = i
    while j < len(tokens):
        item = tokens[j]
        nxt = tokens[j + 1] if j + 1 < len(tokens) else ""
        if item in _SMALL and last != "small" and not (last == "tens" and _SMALL[item] >= 10):
            current += _SMALL[item]
            last = "small"
        elif item in _TENS and last not in ("small", "tens"):
            current += _TENS[item]
            last = "tens"
        elif item == "hundred" and last:
            current = (current or 1) * 100
            last = "scale"
        elif item in _BIG and last:
            total += (current or 1) * _BIG[item]
            current = 0
            last = "scale"
        elif not (
            (item == "-" and last == "tens" and _SMALL.get(nxt, 10) < 10)
            or (item == "and" and last == "scale" and (nxt in _SMALL or nxt in _TENS))
        ):
            break
        j += 1
    if j == i:
        return None
    return total + current, j


def _number_at(tokens: list[str], i: int, durations: bool) -> tuple[float, float, int] | None:
    """Read one number starting at tokens[i]: (value, scale, index after it), or None."""
    item = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    units = _UNIT_YEARS if durations else {}
    value: float | None
    if item[0].isdigit() or item[0] == ".":
        value, j = _digits(item), i + 1
    elif item in ("a", "an"):
        if nxt in _VAGUE:
            value, j = float(_VAGUE[nxt]), i + 2
        elif nxt == "half":
            value, j = 0.5, i + 2
        elif nxt in ("hundred", *_BIG):
            read = _words(tokens, i + 1, current=1.0, last="small")
            value, j = read if read else (None, i + 1)
        elif nxt in units:
            value, j = 1.0, i + 1
        else:
            return None
    elif item in _VAGUE:
        value, j = float(_VAGUE[item]), i + 1
    elif item == "half":
        value, j = 0.5, i + 1
        if tokens[j : j + 1] in (["a"], ["an"]) and j + 1 < len(tokens) and tokens[j + 1] in units:
            j += 1  # "half a year"
    else:
        read = _words(tokens, i)
        if read is None:
            return None
        value, j = read
    if value is None:
        return None
    if tokens[j : j + 1] == ["of"] and item in ("a", "an", *_VAGUE):
        j += 1  # "a couple of years"
    if tokens[j : j + 3] == ["and", "a", "half"] or tokens[j : j + 2] == ["and", "half"]:
        value += 0.5
        j += 3 if tokens[j + 1] == "a" else 2
    scale = 1.0
    while j < len(tokens) and tokens[j] in _SCALES and not (durations and tokens[j] == "m"):
        scale *= _SCALES[tokens[j]]
        j += 1
    return value, scale, j


def _quantities(tokens: list[str], durations: bool) -> list[_Quantity]:
    """Every number in the reply, with the duration unit that follows it, left to right."""
    units = _UNIT_YEARS if durations else {}
    found: list[_Quantity] = []
    i = 0
    while i < len(tokens):
        read = _number_at(tokens, i, durations)
        if read is None:
            i += 1
            continue
        value, scale, j = read
        while j < len(tokens) and tokens[j] in ("+", "full", "whole", "plus", "more"):
            j += 1  # "5+ years", "2 full years"
        unit = tokens[j] if j < len(tokens) and tokens[j] in units else None
        if unit:
            j += 1
            if tokens[j : j + 3] == ["and", "a", "half"]:  # "a year and a half"
                value += 0.5
                j += 3
        found.append(_Quantity(value, unit, scale, i, j))
        i = max(j, i + 1)
    return found


def _finite(value: float) -> bool:
    return math.isfinite(value) and abs(value) < 1e18


def _tidy(value: float, places: int | None = None) -> int | float:
    """Round durations to `places`, and give whole numbers as ints ("3", not "3.0")."""
    if places is not None:
        value = round(value, places)
    return int(value) if value == int(value) else value


def _number(raw: str, text: str) -> Parsed:
    tokens = _tokens(text)
    quantities = _quantities(tokens, durations=False)
    if quantities:
        first = quantities[0]
        scale = first.scale
        second = quantities[1] if len(quantities) > 1 else None
        if scale == 1 and second and _is_range(tokens, first, second):
            scale = second.scale  # "50-60k" reads as 50k
        value = first.value * scale
        if _finite(value):
            return Parsed(True, _tidy(value, 6))
        return Parsed(False, None, f"the number in '{_shown(raw)}' is too large")
    if not _has_phrase(tokens, _UNSURE) and _has_phrase(tokens, _ZERO_NUMBER):
        return Parsed(True, 0)
    return Parsed(False, None, f"no number in '{_shown(raw)}'")


def _is_range(tokens: list[str], first: _Quantity, second: _Quantity) -> bool:
    """True when `second` is the upper end of a range starting at `first` ("2-3", "2 to 3")."""
    gap = tokens[first.end : second.start]
    return len(gap) == 1 and gap[0] in _RANGE


def _duration(raw: str, text: str, per_unit: dict[str, float], zero: frozenset) -> Parsed:
    """Read a duration as a number of `per_unit`'s base unit (years or weeks)."""
    label = "years" if per_unit is _UNIT_YEARS else "weeks"
    tokens = _tokens(text)
    quantities = _quantities(tokens, durations=True)
    if not quantities:
        if not _has_phrase(tokens, _UNSURE) and _has_phrase(tokens, zero):
            return Parsed(True, 0)
        return Parsed(False, None, f"no {label} in '{_shown(raw)}'")
    first = quantities[0]
    unit = first.unit
    rest = quantities[1:]
    if unit is None and rest and _is_range(tokens, first, rest[0]):
        unit = rest[0].unit  # "2-3 years" reads as 2 years
    total = first.value * first.scale * (per_unit[unit] if unit else 1.0)
    previous = unit
    for later in rest:  # "1 year 6 months", "2 years and 3 months"
        gap = tokens[first.end : later.start]
        smaller = later.unit and previous and per_unit[later.unit] < per_unit[previous]
        if not smaller or gap not in ([], ["and"], ["plus"]):
            break
        total += later.value * per_unit[later.unit]
        first, previous = later, later.unit
    limit = MAX_YEARS if per_unit is _UNIT_YEARS else MAX_WEEKS
    if not _finite(total) or total > limit:
        return Parsed(False, None, f"more than {limit} {label} in '{_shown(raw)}'")
    return Parsed(True, _tidy(total, 2))


def _text(raw: str) -> Parsed:
    value = raw.strip()[:MAX_TEXT]
    if not value:
        return Parsed(False, None, "the answer is empty")
    return Parsed(True, value)


def parse_answer(text: str, expect: Expect) -> Parsed:
    """Read a free-text reply as the kind of answer a question expects.

    Never raises: an odd reply is "not understood" (with a reason), never an error, so the
    runner can re-ask instead of failing the contact.
    """
    if not isinstance(text, str):
        return Parsed(False, None, "the answer is not text")
    if expect == "text":
        return _text(text)
    raw = text[:MAX_INPUT]
    if not raw.strip():
        return Parsed(False, None, "the answer is empty")
    normal = _normalise(raw)
    if expect == "yes_no":
        return _yes_no(raw, normal)
    if expect == "number":
        return _number(raw, normal)
    if expect == "years":
        return _duration(raw, normal, _UNIT_YEARS, _ZERO_YEARS)
    if expect == "weeks":
        return _duration(raw, normal, _UNIT_WEEKS, _ZERO_WEEKS)
    return Parsed(False, None, f"unknown expectation {str(expect)[:40]!r}")
