"""Tolerant reading of free-text answers to a journey's questions (SMS, WhatsApp, chat).

People answer "do you have a visa?" with "yep 👍", "no, not yet" or "what visa?", and "how much
experience?" with "a couple of years" or "18 months". This module turns such replies into a value
the journey can check, or says plainly that it could not, so the runner can re-ask once instead
of guessing. It is pure Python (no Django, no ORM) and never raises: every string, however odd or
long, gets a `Parsed`. Work is bounded because input is truncated before it is read and every
pattern is fixed (never built from input).

The package: `common` (Parsed, limits, normalising), one module per kind of answer
(`yes_no`, `numbers`, `durations`) and `parse` (`parse_answer` and plain text).
"""

from journeys.answers.common import (
    EXPECTATIONS,
    MAX_INPUT,
    MAX_TEXT,
    MAX_WEEKS,
    MAX_YEARS,
    Expect,
    Parsed,
)
from journeys.answers.parse import parse_answer

__all__ = [
    "EXPECTATIONS",
    "MAX_INPUT",
    "MAX_TEXT",
    "MAX_WEEKS",
    "MAX_YEARS",
    "Expect",
    "Parsed",
    "parse_answer",
]
