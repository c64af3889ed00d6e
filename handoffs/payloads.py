"""The handoff shape H (API.md) as a plain dict: the API and the event log both use it, so a
program sees the same object from `GET /handoffs/{id}/` and from the live stream."""

from __future__ import annotations

from typing import Any

from handoffs.models import Handoff
from portal.timefmt import iso


def person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "name": display_name(user)}


def display_name(user: Any) -> str:
    return (user.get_full_name() or user.username).strip()


def handoff_as_dict(handoff: Handoff) -> dict[str, Any]:
    """Needs `team`, `contact` and `assignee` loaded (selectors select_related them)."""
    contact = handoff.contact
    return {
        "id": handoff.pk,
        "team": handoff.team.slug,
        "trigger": handoff.trigger,
        "reason": handoff.reason,
        "priority": handoff.priority,
        "status": handoff.status,
        "assignee": person(handoff.assignee),
        "offered_to_role": handoff.offered_to_role or None,
        "contact": {"id": contact.pk, "external_id": contact.external_id, "name": contact.name},
        "evidence": handoff.evidence,
        "created_at": iso(handoff.created_at),
        "updated_at": iso(handoff.updated_at),
        "claimed_at": iso(handoff.claimed_at),
        "first_response_due_at": iso(handoff.first_response_due_at),
        "first_responded_at": iso(handoff.first_responded_at),
        "resolved_at": iso(handoff.resolved_at),
        "resolution": handoff.resolution,
        "resume_automation": handoff.resume_automation,
        "breached": handoff.breached,
        "escalated": handoff.escalated,
        # The SLA clock (docs/sla.md), added in v1 without changing the fields above.
        "sla_started_at": iso(handoff.sla_started_at),
        "next_response_due_at": iso(handoff.next_response_due_at),
        "resolution_due_at": iso(handoff.resolution_due_at),
        "sla_clock": _clock(handoff),
        "sla_paused_since": iso(handoff.sla_paused_at),
        "breached_at": iso(handoff.breached_at),
        "breached_target": handoff.breached_target or None,
    }


def _clock(handoff: Handoff) -> dict[str, Any] | None:
    """The due time that runs out first, or None while nothing runs (paused, or resolved)."""
    clock = handoff.sla_clock if handoff.is_active else None
    if clock is None:
        return None
    return {"target": clock.target, "due_at": iso(clock.due)}
