"""Raising a handoff, or attaching the new evidence to the contact's active one for the same
trigger.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from handoffs.assignment import AUTO_MODES
from handoffs.choices import (
    ACTIVE_STATUSES,
    HandoffEventKind,
)
from handoffs.models import Handoff, HandoffEvent
from handoffs.services.common import _announce, _fresh
from journeys.models import Contact, HandoffRule, Signal
from journeys.services import (
    enrollments_pause_for_contact,
)
from portal.choices import EventType
from portal.errors import Conflict
from portal.models import Team
from portal.realtime import lock_event_seq

MAX_EVIDENCE_ITEMS = 200


@dataclass(frozen=True)
class RaiseRequest:
    contact: Contact
    team: Team
    trigger: str
    priority: str
    reason: str
    evidence: dict[str, Any]
    rule: HandoffRule | None = None
    signal: Signal | None = None
    offered_to_role: str = ""
    first_response_minutes: int | None = None  # a human step's own SLA beats the team default


@transaction.atomic
def handoff_raise(*, request: RaiseRequest) -> tuple[Handoff, bool]:
    """Raise a handoff, or attach the evidence to the contact's active one for this trigger.

    Race prevented: two signals for one contact arriving together. The partial unique index
    `handoff_one_active_per_contact_trigger` lets exactly one insert win; the other attaches."""
    lock_event_seq()
    for _ in range(3):
        existing = (
            Handoff.objects.select_for_update(of=("self",))
            .select_related("team", "contact", "assignee")
            .filter(contact=request.contact, trigger=request.trigger, status__in=ACTIVE_STATUSES)
            .first()
        )
        if existing is not None:
            return _attach_evidence(existing, request), False
        now = timezone.now()
        try:
            with transaction.atomic():
                handoff = Handoff.objects.create(
                    team=request.team,
                    contact=request.contact,
                    trigger=request.trigger,
                    priority=request.priority,
                    reason=request.reason[:600],
                    evidence=[request.evidence],
                    offered_to_role=request.offered_to_role,
                    rule=request.rule,
                    signal=request.signal,
                    created_at=now,
                    first_response_due_at=now
                    + timedelta(
                        minutes=request.first_response_minutes
                        or request.team.first_response_minutes
                    ),
                )
        except IntegrityError:
            continue  # lost the race: the winner's row is committed now; attach to it
        HandoffEvent.objects.create(
            handoff=handoff, kind=HandoffEventKind.CREATED, data={"reason": handoff.reason}
        )
        # The journey line is shared context for every team: who has the baton, not why.
        enrollments_pause_for_contact(
            contact_id=request.contact.pk, reason=f"the {request.team.name} team has the baton"
        )
        handoff.assignee = None
        _announce([handoff], EventType.HANDOFF_CREATED)
        if request.team.assignment_mode in AUTO_MODES:
            _assign_after_commit(request.team.pk)
        return handoff, True
    raise Conflict("Could not raise or attach the handoff; try again.")


def _attach_evidence(handoff: Handoff, request: RaiseRequest) -> Handoff:
    evidence = [*handoff.evidence, request.evidence][-MAX_EVIDENCE_ITEMS:]
    Handoff.objects.filter(pk=handoff.pk).update(evidence=evidence, updated_at=timezone.now())
    HandoffEvent.objects.create(
        handoff=handoff, kind=HandoffEventKind.EVIDENCE_ADDED, data=request.evidence
    )
    handoff = _fresh(handoff.pk)
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


_pending = threading.local()


def _assign_after_commit(team_id: int) -> None:
    """After commit, run an assignment pass over the team (oldest first, so the new handoff
    does not jump ahead of ones already waiting). A batch raising many handoffs in one
    transaction sends one pass per team, not one per handoff."""
    from handoffs.tasks import assignment_sweep  # tasks import the services

    teams: set[int] = _pending.__dict__.setdefault("teams", set())
    teams.add(team_id)

    def flush() -> None:
        if teams:
            team_ids = sorted(teams)
            teams.clear()
            assignment_sweep.delay(team_ids=team_ids)

    transaction.on_commit(flush, robust=True)
