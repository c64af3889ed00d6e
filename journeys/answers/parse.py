"""`parse_answer`, which reads a reply as the kind of answer a question expects, and the
plain `text` kind of answer.
"""

from __future__ import annotations

from journeys.answers.common import (
    MAX_INPUT,
    MAX_TEXT,
    Expect,
    Parsed,
    _normalise,
)
from journeys.answers.durations import _ZERO_WEEKS, _ZERO_YEARS, _duration
from journeys.answers.numbers import _UNIT_WEEKS, _UNIT_YEARS, _number
from journeys.answers.yes_no import _yes_no


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
