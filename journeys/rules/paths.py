"""The documents rules read: the paths each kind offers, how a path is looked up, how a value
found there is shown to people.

Signals and journeys offer different paths (`SIGNAL_PATHS`, `JOURNEY_PATHS`); conditions and
templates both check and read paths through this module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONTACT_FIELDS = ("external_id", "email", "phone", "name", "timezone")
ACCOUNT_FIELDS = ("external_id", "name")
KNOWN_PATHS_HELP = (
    "type, occurred_at, properties.*, contact.{external_id,email,phone,name,timezone}, "
    "account.{external_id,name}"
)
JOURNEY_CONTACT_FIELDS = ("external_id", "name", "first_name", "email", "phone", "timezone")
JOURNEY_PATHS_HELP = (
    "contact.{external_id,name,first_name,email,phone,timezone}, account.{external_id,name}, "
    "answers.*, properties.*, journey.name"
)


@dataclass(frozen=True)
class PathRules:
    """Which paths a document offers, so one validator serves signals and journeys alike.

    `exact` are whole paths (``contact.email``); `free_roots` are roots whose keys are whatever
    the data holds (``properties`` allows ``properties.<anything non-empty>``); `help` is the
    list shown when a path is refused.
    """

    exact: frozenset[str]
    free_roots: frozenset[str]
    help: str


SIGNAL_PATHS = PathRules(
    exact=frozenset(
        (
            "type",
            "occurred_at",
            *(f"contact.{field}" for field in CONTACT_FIELDS),
            *(f"account.{field}" for field in ACCOUNT_FIELDS),
        )
    ),
    free_roots=frozenset({"properties"}),
    help=KNOWN_PATHS_HELP,
)
JOURNEY_PATHS = PathRules(
    exact=frozenset(
        (
            "journey.name",
            *(f"contact.{field}" for field in JOURNEY_CONTACT_FIELDS),
            *(f"account.{field}" for field in ACCOUNT_FIELDS),
        )
    ),
    free_roots=frozenset({"answers", "properties"}),
    help=JOURNEY_PATHS_HELP,
)


MAX_STRING = 1000


_TYPE_NAMES = (
    (bool, "true/false"),
    (int | float, "number"),
    (str, "text"),
    (list | tuple, "list"),
    (Mapping, "object"),
)


def _type_name(value: object) -> str:
    """Name a value's type in JSON terms, because ops staff think in JSON, not Python."""
    if value is None:
        return "null"
    kinds = (name for kind, name in _TYPE_NAMES if isinstance(value, kind))
    return next(kinds, type(value).__name__)


def _path_error(path: object, paths: PathRules = SIGNAL_PATHS) -> str | None:
    """Return why `path` is not allowed by `paths`, or None when it is fine."""
    if not isinstance(path, str):
        return f"path must be text, got {_type_name(path)}"
    if len(path) > MAX_STRING:
        return f"path is too long ({len(path)} characters; max {MAX_STRING})"
    if path in paths.exact:
        return None
    head, _, rest = path.partition(".")
    if head in paths.free_roots and rest:
        if "" in rest.split("."):
            return f"path {path!r} has an empty segment"
        return None
    return f"unknown path {path!r} (known: {paths.help})"


def path_get(doc: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """Look up a dotted path; (found, value). Never raises, since signal documents are untrusted.

    Numeric segments index into lists, so `properties.items.0.sku` reads the first item's sku.
    An explicit null is returned as (True, None); callers treat null like a missing value.
    """
    current: Any = doc
    for segment in path.split("."):
        if isinstance(current, Mapping):
            if segment not in current:
                return False, None
            current = current[segment]
        elif (
            isinstance(current, list | tuple)
            and segment.isascii()
            and segment.isdigit()
            and len(segment) < 10
            and int(segment) < len(current)
        ):
            current = current[int(segment)]
        else:
            return False, None
    return True, current


def format_value(value: Any) -> str:
    """Render a value for humans: thousands separators, yes/no, and an em dash for nothing."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        try:
            return f"{value:,}"
        except ValueError:  # beyond Python's int-to-text digit limit
            return "…"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ", ".join(_compact(item) for item in value)
    return _compact(value)


def _compact(value: Any) -> str:
    """Scalars via format_value, containers as short JSON; never raises on odd or deep data."""
    if value is None or isinstance(value, bool | int | float | str):
        return format_value(value)
    try:
        return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    except (TypeError, ValueError, RecursionError):
        return "…"
