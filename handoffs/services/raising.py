"""Raising a handoff, or attaching the new evidence to the contact's active one for the same
trigger.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.selectors import SlaTerms, sla_terms
from handoffs.assignment import AUTO_MODES
from handoffs.choices import (
    ACTIVE_STATUSES,
    HandoffEventKind,
    Trigger,
)
from handoffs.models import Handoff, HandoffEvent
from handoffs.services.clocks import ClockStart, clock_start, when_label
from handoffs.services.common import _announce, _fresh
from handoffs.services.replies import automated_message_queue, reply_route
from handoffs.sla import business_time_between
from handoffs.triage.config import triage_settings
from journeys.models import Contact, HandoffRule, Signal
from journeys.services import (
    enrollments_pause_for_contact,
)
from portal.choices import EventType
from portal.errors import Conflict, InvalidInput
from portal.models import Team
from portal.realtime import lock_event_seq

log = logging.getLogger("baton.sla")

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
    first_response_minutes: int | None = None  # a journey step's own SLA beats every policy


@transaction.atomic
def handoff_raise(*, request: RaiseRequest) -> tuple[Handoff, bool]:
    """Raise a handoff, or attach the evidence to the contact's active one for this trigger.

    Its due times come from the team's SLA terms in business time (docs/sla.md); raised while
    the team is shut, the clock starts at the next opening and the contact is told so once.

    Race prevented: two signals for one contact arriving together. The partial unique index
    `handoff_one_active_per_contact_trigger` lets exactly one insert win; the other attaches."""
    lock_event_seq()
    terms: SlaTerms | None = None
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
        terms = terms or _terms_for(request)
        clock = clock_start(terms=terms, now=now)
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
                    **clock.fields(),
                )
        except IntegrityError:
            continue  # lost the race: the winner's row is committed now; attach to it
        sla = f"first reply within {terms.first_response_minutes} min ({terms.first_response_from})"
        if clock.after_hours:
            sla += f"; raised after hours, the clock starts {when_label(clock.started_at, terms)}"
        HandoffEvent.objects.create(
            handoff=handoff,
            kind=HandoffEventKind.CREATED,
            data={"reason": handoff.reason, "sla": sla},
        )
        # The journey line is shared context for every team: who has the baton, not why.
        enrollments_pause_for_contact(
            contact_id=request.contact.pk, reason=f"the {request.team.name} team has the baton"
        )
        if clock.after_hours and terms.after_hours_reply and request.trigger in CONTACT_WAITS:
            _after_hours_reply(handoff, terms, clock, now)
        handoff.assignee = None
        _announce([handoff], EventType.HANDOFF_CREATED)
        if request.team.assignment_mode in AUTO_MODES:
            _assign_after_commit(request.team.pk)
        return handoff, True
    raise Conflict("Could not raise or attach the handoff; try again.")


def _terms_for(request: RaiseRequest) -> SlaTerms:
    """Precedence: a journey step's own SLA, a handoff rule's own minutes, the team's policy
    for the priority, the team's default (governance.selectors.sla_terms)."""
    return sla_terms(
        team_id=request.team.pk,
        priority=request.priority,
        team_default_minutes=request.team.first_response_minutes,
        rule_id=request.rule.pk if request.rule is not None else None,
        step_minutes=request.first_response_minutes,
    )


# Handoffs the contact is waiting on us for. A journey's planned human moment (stage) or a held
# automated message (approval) did not come from the contact, so no after-hours reply for those.
CONTACT_WAITS = frozenset(
    {
        Trigger.HIGH_VALUE,
        Trigger.SENTIMENT,
        Trigger.COMPLEXITY,
        Trigger.QUALIFICATION,
        Trigger.MANUAL,
    }
)


def _after_hours_reply(handoff: Handoff, terms: SlaTerms, clock: ClockStart, now: datetime) -> None:
    """Tell the contact, through the outbox on the conversation's channel, that a person will
    write when the team opens — once per closed stretch: a second handoff for the same contact
    and team before the team has opened again sends nothing more. Never fails the raise."""
    contact = Contact.objects.get(pk=handoff.contact_id)  # the caller's may be a partial upsert
    if contact.last_inbound_channel in (contact.opted_out_channels or []):
        return  # they asked us to stop on the channel they use: no automated courtesy
    told = (
        Handoff.objects.filter(
            contact_id=contact.pk, team_id=handoff.team_id, after_hours_replied_at__isnull=False
        )
        .exclude(pk=handoff.pk)
        .order_by("-after_hours_replied_at")
        .values_list("after_hours_replied_at", flat=True)
        .first()
    )
    if told is not None and not business_time_between(told, now, terms.calendar):
        return
    try:
        channel, address = reply_route(contact)
    except InvalidInput:
        log.info("after-hours reply for handoff %s not sent: no reachable channel", handoff.pk)
        return
    signature = triage_settings().assistant_signature
    message = automated_message_queue(
        contact=contact,
        body=f"{terms.after_hours_reply}\n\n{signature}".strip(),
        route=(channel, address),
        handoff=handoff,  # part of this handover: the send-time check does not hold it back
    )
    Handoff.objects.filter(pk=handoff.pk).update(after_hours_replied_at=now)
    handoff.after_hours_replied_at = now
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=HandoffEventKind.AFTER_HOURS_REPLY,
        data={
            "message_id": message.pk,
            "channel": channel,
            "detail": f"the clock starts at the opening, {when_label(clock.started_at, terms)}",
        },
    )


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
