"""The breach sweep (docs/sla.md): flag active handoffs whose running due time has passed,
escalate them to the team's lead per policy (now, or at the next opening when alerts wait for
business hours), announce the change live, and email the lead after commit."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from governance.choices import BreachAction
from governance.selectors import SlaTerms
from handoffs.choices import ACTIVE_STATUSES, HandoffEventKind, HandoffStatus, SlaTarget
from handoffs.models import Handoff, HandoffEvent
from handoffs.payloads import display_name
from handoffs.services.clocks import opening_or_now, terms_of, when_label
from handoffs.services.common import _announce
from portal.choices import EventType, Role
from portal.models import Membership
from portal.realtime import lock_event_seq
from portal.timefmt import iso

log = logging.getLogger("baton.sla")


@dataclass(frozen=True)
class SweepResult:
    breached: int
    escalated: int


def handoffs_sla_sweep(
    *, now: datetime | None = None, batch_size: int = 200, max_batches: int = 50
) -> SweepResult:
    """Flag every active handoff whose running due time has passed, and escalate per its
    team's policy; then escalate breaches whose alert waited for the next opening. Each batch
    is one short transaction, so a backlog drains batch by batch and a sweep running beside
    this one (another beat, the embedded timer) takes other rows or none."""
    now = now or timezone.now()
    breached = escalated = 0
    memo = _Memo()  # terms and leads read once per sweep, not once per batch
    for _ in range(max_batches):
        seen, flagged, raised = _breach_batch(now, batch_size, memo)
        breached, escalated = breached + flagged, escalated + raised
        if seen < batch_size:
            break
    for _ in range(max_batches):
        seen, raised = _escalation_batch(now, batch_size, memo)
        escalated += raised
        if seen < batch_size:
            break
    if breached or escalated:
        log.info("SLA sweep: %d breached, %d escalated", breached, escalated)
    return SweepResult(breached=breached, escalated=escalated)


class _Memo:
    """Terms and leads per team within one batch: a few queries, not a few per handoff."""

    def __init__(self) -> None:
        self._terms: dict[tuple[int, str], SlaTerms] = {}
        self._leads: dict[int, list[Any]] = {}

    def terms(self, handoff: Handoff) -> SlaTerms:
        key = (handoff.team_id, handoff.priority)
        if key not in self._terms:
            self._terms[key] = terms_of(handoff)
        return self._terms[key]

    def leads(self, team_id: int) -> list[Any]:
        if team_id not in self._leads:
            self._leads[team_id] = team_leads(team_id=team_id)
        return self._leads[team_id]


@transaction.atomic
def _breach_batch(now: datetime, size: int, memo: _Memo) -> tuple[int, int, int]:
    lock_event_seq()  # lock order: the event log before any handoff row (portal/realtime.py)
    due = list(
        _held()
        .filter(status__in=ACTIVE_STATUSES, breached=False, sla_due_at__lte=now)
        .order_by("sla_due_at", "id")[:size]
    )
    stale: list[int] = []
    groups: dict[tuple[str, datetime | None], list[Handoff]] = defaultdict(list)
    for handoff in due:
        clock = handoff.sla_clock
        if clock is None:  # stale: nothing runs any more
            stale.append(handoff.pk)
            continue
        groups[(clock.target, _escalation_time(memo.terms(handoff), now))].append(handoff)
    if stale:
        Handoff.objects.filter(pk__in=stale).update(sla_due_at=None)
    events: list[HandoffEvent] = []
    changed: list[Handoff] = []
    escalate_now: list[Handoff] = []
    for (target, escalate_at), handoffs in groups.items():
        # Race prevented: two sweepers (two beats, beat and the embedded timer) flagging and
        # escalating one handoff twice. The rows are already ours (FOR UPDATE SKIP LOCKED),
        # and the compare-and-swap on `breached` makes a second flag match nothing even for a
        # caller that did not lock: only the winner writes the event and escalates. One
        # UPDATE per (target, escalation time) rather than one per row (docs/scale-out.md).
        _swap(
            handoffs,
            guard={"breached": False},
            breached=True,
            breached_at=now,
            breached_target=target,
            escalation_due_at=escalate_at,
            updated_at=now,
        )
        waits = escalate_at is not None and escalate_at > now
        for handoff in handoffs:
            clock = handoff.sla_clock
            assert clock is not None  # grouped above
            terms = memo.terms(handoff)
            events.append(
                HandoffEvent(
                    handoff_id=handoff.pk,
                    kind=HandoffEventKind.BREACHED,
                    data={
                        "target": clock.target,
                        "due": iso(clock.due),
                        "detail": f"{SlaTarget(clock.target).label} was due "
                        f"{when_label(clock.due, terms)}"
                        + (
                            f"; the lead is alerted at {when_label(escalate_at, terms)}"
                            if waits
                            else ""
                        ),
                    },
                )
            )
            changed.append(handoff)
            if escalate_at is not None and not waits:
                escalate_now.append(handoff)
    HandoffEvent.objects.bulk_create(events)
    escalated = _escalate(escalate_now, now, memo)
    _announce_changed(changed)
    return len(due), len(changed), escalated


class SweepRaced(RuntimeError):
    """A row the sweep held under FOR UPDATE changed under it: its batch is undone."""


def _swap(handoffs: list[Handoff], *, guard: dict[str, Any], **update: Any) -> None:
    """Compare-and-swap `update` onto `handoffs` while they still match `guard`, in one UPDATE.
    The caller holds their rows (FOR UPDATE, read in this transaction, matching `guard`), so
    every one of them matches; if one did not, a writer that does not lock changed it, and
    rather than guess which of the batch won, the whole batch rolls back for the next sweep."""
    ids = [h.pk for h in handoffs]
    if Handoff.objects.filter(pk__in=ids, **guard).update(**update) != len(ids):
        raise SweepRaced(f"handoffs {ids} changed under the sweep's row locks")
    for handoff in handoffs:  # the rows now hold exactly this: announce them without a re-read
        for field, value in update.items():
            setattr(handoff, field, value)


@transaction.atomic
def _escalation_batch(now: datetime, size: int, memo: _Memo) -> tuple[int, int]:
    lock_event_seq()
    due = list(
        _held()
        .filter(status__in=ACTIVE_STATUSES, escalated=False, escalation_due_at__lte=now)
        .order_by("escalation_due_at", "id")[:size]
    )
    escalated = _escalate(due, now, memo)
    _announce_changed(due)
    return len(due), escalated


def _held() -> QuerySet[Handoff]:
    """Handoffs the sweep takes: row-locked (skipping rows someone else holds), with what their
    announcement shows loaded. of=("self",): the nullable assignee join cannot be locked."""
    return Handoff.objects.select_for_update(skip_locked=True, of=("self",)).select_related(
        "team", "contact", "assignee"
    )


def _escalation_time(terms: SlaTerms, now: datetime) -> datetime | None:
    if terms.on_breach == BreachAction.FLAG_ONLY:
        return None
    if terms.alerts_in_business_hours:
        return opening_or_now(now, terms.calendar)
    return now


def _escalate(handoffs: list[Handoff], now: datetime, memo: _Memo) -> int:
    """Escalate breached handoffs (locked by the caller) to their team's lead, per policy:
    notify the leads, or give the handoff to one of them and notify them."""
    events: list[HandoffEvent] = []
    notices: list[tuple[int, list[int]]] = []
    cleared: list[Handoff] = []
    given: list[tuple[Handoff, Any]] = []
    # Race prevented: as for the breach, a second escalation matches nothing (the guard on
    # `escalated`); rows with the same change share one UPDATE.
    shapes: dict[tuple[tuple[str, Any], ...], list[Handoff]] = defaultdict(list)
    for handoff in handoffs:
        terms = memo.terms(handoff)
        leads = memo.leads(handoff.team_id)
        if terms.on_breach == BreachAction.FLAG_ONLY or not leads:
            cleared.append(handoff)
            if leads:
                continue  # the policy changed to "flag only" while the alert waited
            events.append(
                HandoffEvent(
                    handoff_id=handoff.pk,
                    kind=HandoffEventKind.ESCALATION_FAILED,
                    data={"detail": "the team has no lead or director to escalate to"},
                )
            )
            continue
        update: dict[str, Any] = {"escalated": True, "escalation_due_at": None, "updated_at": now}
        notify = leads
        holder = next((u for u in leads if u.pk == handoff.assignee_id), None)
        if terms.on_breach == BreachAction.REASSIGN_TO_LEAD:
            notify = [holder or leads[0]]
        if terms.on_breach == BreachAction.REASSIGN_TO_LEAD and holder is None:
            lead = leads[0]
            update.update(assignee_id=lead.pk, claimed_at=now)
            if handoff.status == HandoffStatus.OPEN:
                update["status"] = HandoffStatus.CLAIMED
        shapes[tuple(sorted(update.items()))].append(handoff)
        if "assignee_id" in update:
            given.append((handoff, lead))
            previous = handoff.assignee
            events.append(
                HandoffEvent(
                    handoff_id=handoff.pk,
                    kind=HandoffEventKind.REASSIGNED,
                    data={
                        "from": previous.username if previous else None,
                        "to": lead.username,
                        "to_id": lead.pk,
                        "detail": "SLA escalation",
                    },
                )
            )
        names = ", ".join(f"{display_name(u)} ({u.team_role})" for u in notify)
        events.append(
            HandoffEvent(
                handoff_id=handoff.pk,
                kind=HandoffEventKind.ESCALATED,
                data={
                    "action": terms.on_breach,
                    "to": [u.username for u in notify],
                    "detail": f"given to {names}"
                    if "assignee_id" in update
                    else f"{names} notified",
                },
            )
        )
        notices.append((handoff.pk, [u.pk for u in notify]))
    if cleared:
        _swap(cleared, guard={}, escalation_due_at=None)
    for shape, group in shapes.items():
        _swap(group, guard={"escalated": False}, **dict(shape))
    for handoff, lead in given:
        handoff.assignee = lead  # _swap set assignee_id; the announcement shows the person
    HandoffEvent.objects.bulk_create(events)
    if notices:
        escalated = [e.pk for e in events if e.kind == HandoffEventKind.ESCALATED]
        _alert_leads(notices, escalated)
    return len(notices)


def _alert_leads(notices: list[tuple[int, list[int]]], event_ids: list[int]) -> None:
    """Queue the leads' emails for a batch's escalations.

    Race prevented: a sweeper killed after its commit but before its on-commit hooks ran lost
    those alerts for good (fault 5 of issue 8 lost a batch's worth per kill). With a real broker
    one task per batch is queued inside the transaction, naming the batch's Escalated events: it
    waits until they are committed, and drops them if the batch rolled back (a later sweep
    escalates those handoffs again and queues its own). A broker refusing it fails the batch,
    which the next sweep retries. Eager (dev, tests): after commit, as a task run in-process
    inside the transaction would email about something not yet committed."""
    from handoffs.tasks import sla_escalation_notify, sla_escalations_notify

    if sla_escalations_notify.app.conf.task_always_eager:
        for handoff_id, user_ids in notices:
            transaction.on_commit(
                _enqueue(sla_escalation_notify.delay, handoff_id, user_ids), robust=True
            )
        return
    sla_escalations_notify.delay(event_ids=event_ids, notices=notices)


def escalations_committed(*, event_ids: list[int]) -> bool:
    """Whether a sweep batch's Escalated events exist: all of them (its commit) or none."""
    return HandoffEvent.objects.filter(pk__in=event_ids).exists()


def _enqueue(send: Callable[..., Any], handoff_id: int, user_ids: list[int]) -> Callable[[], Any]:
    return lambda: send(handoff_id=handoff_id, user_ids=user_ids)


def _announce_changed(handoffs: list[Handoff]) -> None:
    """The rows as the batch left them (`_swap` keeps them in step with the database)."""
    if handoffs:
        _announce(sorted(handoffs, key=lambda h: h.pk), EventType.HANDOFF_UPDATED)


def team_leads(*, team_id: int) -> list[Any]:
    """Who a breach escalates to: the team's leads, or its directors where it has no lead (the
    Sales Director leads Sales). Those available now come first, then by user id. Each user
    carries `team_role`, the role's label."""
    members = list(
        Membership.objects.filter(
            team_id=team_id, role__in=[Role.LEAD, Role.DIRECTOR], user__is_active=True
        ).select_related("user", "user__availability")
    )
    role = Role.LEAD if any(m.role == Role.LEAD for m in members) else Role.DIRECTOR
    chosen = [m for m in members if m.role == role]

    def available(m: Membership) -> bool:
        availability = getattr(m.user, "availability", None)
        return availability is not None and availability.status == "available"

    chosen.sort(key=lambda m: (not available(m), m.user_id))
    users = []
    for m in chosen:
        m.user.team_role = Role(m.role).label
        users.append(m.user)
    return users


# --- telling the lead --------------------------------------------------------------------------


def escalation_notify(*, handoff_id: int, user_ids: list[int]) -> int:
    """Email the people a breach was escalated to (outside any transaction: slow I/O); how many
    emails went out. People without an email address see it in their inbox only."""
    handoff = (
        Handoff.objects.select_related("team", "contact", "assignee").filter(pk=handoff_id).first()
    )
    if handoff is None or not handoff.escalated:
        return 0
    people = list(
        get_user_model().objects.filter(pk__in=user_ids, is_active=True).exclude(email="")
    )
    if not people:
        return 0
    contact = handoff.contact.display_name
    owner = display_name(handoff.assignee) if handoff.assignee else "nobody yet"
    target = (
        SlaTarget(handoff.breached_target).label.lower() if handoff.breached_target else "reply"
    )
    subject = (
        f"SLA breached: {handoff.get_priority_display()} {handoff.get_trigger_display().lower()} "
        f"handoff for {contact} ({handoff.team.name})"
    )
    body = (
        f"The {target} on handoff #{handoff.pk} for {contact} is overdue.\n\n"
        f"Why it was raised: {handoff.reason}\n"
        f"Owner: {owner}\n"
        f"Open it in Baton: {getattr(settings, 'BATON_PUBLIC_URL', '')}/handoffs/{handoff.pk}/\n"
    )
    messages = [
        EmailMessage(
            subject=subject,
            body=body,
            to=[person.email],
            headers={"Auto-Submitted": "auto-generated"},
        )
        for person in people
    ]
    connection = mailers.default
    with connection:
        return connection.send_messages(messages) or 0
