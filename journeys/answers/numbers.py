"""Reading numbers in replies (digits, words, "50k", "a couple"), and a `number` answer.

`durations` reuses the reading of quantities and their units for years and weeks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from journeys.answers.common import (
    _UNSURE,
    Parsed,
    _has_phrase,
    _phrases,
    _shown,
    _tokens,
    _wordlist,
)

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
