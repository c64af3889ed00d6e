"""Personas, and how a contact gets one. Pure: ingestion imports it without the ORM."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db import models


class Persona(models.TextChoices):
    """Who the contact is to the deal. Content is tagged with these; a contact's persona comes
    from the `persona` property of its signals (`persona_from`)."""

    ECONOMIC_BUYER = "economic_buyer", "Economic buyer"
    CHAMPION = "champion", "Champion"
    TECHNICAL_EVALUATOR = "technical_evaluator", "Technical evaluator"
    END_USER = "end_user", "End user"
    EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
    CANDIDATE = "candidate", "Candidate"


_NOT_WORD = re.compile(r"[^a-z0-9]+")


def persona_from(properties: Mapping[str, Any] | None) -> str:
    """The persona a signal declares in `properties.persona`, as a `Persona` value, or "".

    Integrations may send the value or the label in any case ("Economic buyer",
    "economic-buyer", "ECONOMIC_BUYER"); anything else is ignored, so a typo never overwrites a
    persona the contact already has."""
    raw = (properties or {}).get("persona")
    if not isinstance(raw, str) or len(raw) > 100:
        return ""
    value = _NOT_WORD.sub("_", raw.strip().lower()).strip("_")
    return value if value in Persona.values else ""
