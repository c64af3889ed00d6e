"""What next-step conditions and reply templates read, and how they are checked on save.

Conditions read a signal document, like handoff rules and journey enroll conditions
(`rules.SIGNAL_PATHS`), built from the contact's recent signals. Reply templates read the
contact, its account, those signals' properties, the journey it is in and the rep writing.
Pure: no ORM (the selector builds the documents from rows)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from journeys import rules

REPLY_CONTACT_FIELDS = ("first_name", "name", "email", "phone", "external_id", "timezone")
REPLY_PATHS_HELP = (
    "contact.{first_name,name,email,phone,external_id,timezone}, account.{name,external_id}, "
    "properties.*, journey.name, rep.{first_name,name}, team.name"
)
REPLY_PATHS = rules.PathRules(
    exact=frozenset(
        (
            *(f"contact.{f}" for f in REPLY_CONTACT_FIELDS),
            "account.name",
            "account.external_id",
            "journey.name",
            "rep.first_name",
            "rep.name",
            "team.name",
        )
    ),
    free_roots=frozenset({"properties"}),
    help=REPLY_PATHS_HELP,
)
MAX_BODY = 2000


def body_errors(body: str) -> list[str]:
    """Every problem with a reply template body; [] when valid. Checked line by line (a
    placeholder never spans lines), so a body may be longer than one reason template."""
    if len(body) > MAX_BODY:
        return [f"too long ({len(body)} characters; max {MAX_BODY})"]
    errors = []
    for number, line in enumerate(body.splitlines(), start=1):
        errors += [f"line {number}: {e}" for e in rules.template_errors(line, paths=REPLY_PATHS)]
    return errors


def body_render(body: str, doc: Mapping[str, Any]) -> str:
    """The draft: placeholders filled; a value the contact does not have shows as "—", which
    the rep sees and fills in before sending."""
    return "\n".join(
        rules.template_render(line, doc, paths=REPLY_PATHS) for line in body.split("\n")
    )


def first_name(name: str) -> str:
    """As journeys greet people (journeys/engine.py), with "there" when there is no name."""
    return (name.split() or ["there"])[0]


def merged_properties(newest_first: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The contact's recent signals' properties in one object: the newest value of each key."""
    merged: dict[str, Any] = {}
    for properties in reversed(newest_first):
        if isinstance(properties, Mapping):
            merged.update(properties)
    return merged
