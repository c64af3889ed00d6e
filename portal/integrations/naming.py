"""Event names from other tools → Baton signal types.

"Form Submitted" → `form_submitted`, "formSubmitted" → `form_submitted`, "checkout.started" →
`checkout_started`, "Café Visited" → `cafe_visited`: camelCase is split, accents are folded to
ASCII, every run of other characters becomes one `_`, and the result is lower case. A name that
leaves nothing (only symbols or non-Latin script) or more than 64 characters is refused."""

from __future__ import annotations

import re
import unicodedata

MAX_TYPE_LENGTH = 64
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_OTHER = re.compile(r"[^A-Za-z0-9]+")


class EventNameError(ValueError):
    pass


def signal_type_for(name: str) -> str:
    """The signal type an event name becomes (see the module docstring)."""
    folded = unicodedata.normalize("NFKD", _CAMEL.sub(" ", name))
    ascii_only = folded.encode("ascii", "ignore").decode("ascii")
    normalised = _OTHER.sub("_", ascii_only).strip("_").lower()
    if not normalised:
        raise EventNameError(
            f"{name[:80]!r} has no letters or digits Baton can use as a signal type "
            "(letters a-z, digits; e.g. 'Form Submitted' → form_submitted)."
        )
    if len(normalised) > MAX_TYPE_LENGTH:
        raise EventNameError(
            f"{name[:80]!r} makes a signal type longer than {MAX_TYPE_LENGTH} characters."
        )
    return normalised
