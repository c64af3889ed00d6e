"""Reading a `years` or `weeks` answer: "18 months", "a year and a half", "2-3 years",
"immediately", from the quantities `numbers` finds.
"""

from __future__ import annotations

from journeys.answers.common import (
    _UNSURE,
    MAX_WEEKS,
    MAX_YEARS,
    Parsed,
    _has_phrase,
    _phrases,
    _shown,
    _tokens,
)
from journeys.answers.numbers import _UNIT_YEARS, _finite, _is_range, _quantities, _tidy

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
