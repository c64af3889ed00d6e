"""A proposed change to a governed rule or policy, not yet live: what a draft holds
(governance/versions/) and what a replay runs (governance/replay/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models


@dataclass(frozen=True)
class ProposedChange:
    """`values` are field values by attname (`team_id`, not `team`), as the object would be
    saved; `pk` is None for an object the draft creates; `related` replaces an object's whole set
    of inline children (e.g. a calendar's `periods`), by related name, each child as values."""

    model: type[models.Model]
    pk: int | None
    values: dict[str, Any]
    delete: bool = False
    related: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
