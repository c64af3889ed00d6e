"""The breach sweep on PostgreSQL (docs/sla.md): it flags what is overdue, escalates per policy
(notify the lead, give it to the lead, or flag only), waits for business hours when told to,
pushes the change live, drains a backlog in batches through its partial index, and two sweepers
running at once never flag or escalate a handoff twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from conftest import Org, run_concurrently
from governance.choices import BreachAction
from governance.models import BusinessCalendar, OpeningPeriod, SlaPolicy, TeamHours
from handoffs.choices import HandoffEventKind, HandoffStatus, Trigger
from handoffs.models import Handoff, HandoffEvent
from handoffs.services import RaiseRequest, handoff_raise, handoff_reply
from handoffs.services.breaches import handoffs_sla_sweep
from handoffs.tasks import sla_sweep
from journeys.models import Contact
from portal.choices import EventType, Role
from portal.models import Event
from portal.services import membership_set

pytestmark = pytest.mark.django_db(transaction=True)

LATER = timedelta(hours=3)


def raise_many(org: Org, n: int, *, team: str = "success", priority: str = "normal") -> list[int]:
    ids = []
    for i in range(n):
        who = Contact.objects.create(
            external_id=f"c-{team}-{i}", name=f"Contact {i}", email=f"c{i}@example.com"
        )
        handoff, _ = handoff_raise(
            request=RaiseRequest(
                contact=who,
                team=org.teams[team],
                trigger=Trigger.COMPLEXITY,
                priority=priority,
                reason="A question",
                evidence={"type": "test"},
            )
        )
        ids.append(handoff.pk)
    return ids


def with_emails(org: Org) -> None:
    for username, user in org.users.items():
        user.email = f"{username}@baton.example"
        user.save(update_fields=["email"])


def events(kind: str) -> Counter[int]:
    return Counter(HandoffEvent.objects.filter(kind=kind).values_list("handoff_id", flat=True))


def test_an_overdue_first_reply_is_flagged_escalated_to_the_lead_and_pushed_live(org: Org):
    with_emails(org)
    [handoff_id] = raise_many(org, 1)
    seq = Event.objects.order_by("-id").values_list("id", flat=True).first()

    assert handoffs_sla_sweep().breached == 0  # not due yet
    result = handoffs_sla_sweep(now=timezone.now() + LATER)

    assert (result.breached, result.escalated) == (1, 1)
    handoff = Handoff.objects.get(pk=handoff_id)
    assert (handoff.breached, handoff.escalated, handoff.breached_target) == (
        True,
        True,
        "first_response",
    )
    assert handoff.assignee is None  # notify only: the pool still has it
    breach = HandoffEvent.objects.get(handoff=handoff, kind=HandoffEventKind.BREACHED)
    assert breach.data["target"] == "first_response"
    assert breach.data["detail"].startswith("First reply was due ")
    escalation = HandoffEvent.objects.get(handoff=handoff, kind=HandoffEventKind.ESCALATED)
    assert escalation.data == {
        "action": "notify_lead",
        "to": ["morgan"],
        "detail": "Morgan Moss (Lead) notified",
    }
    [email] = mail.outbox
    assert email.to == ["morgan@baton.example"]
    assert email.subject == ("SLA breached: Normal complexity handoff for Contact 0 (Success)")
    assert f"/handoffs/{handoff_id}/" in email.body
    live = Event.objects.filter(id__gt=seq, type=EventType.HANDOFF_UPDATED, handoff_id=handoff_id)
    assert [(e.payload["breached"], e.payload["escalated"]) for e in live] == [(True, True)]
    assert live[0].payload["breached_target"] == "first_response"

    # Swept again: nothing more happens.
    assert handoffs_sla_sweep(now=timezone.now() + LATER) == result.__class__(0, 0)
    assert len(mail.outbox) == 1


def test_reassign_to_lead_gives_the_lead_the_handoff(org: Org):
    SlaPolicy.objects.create(
        team=org.teams["success"], priority="urgent", on_breach=BreachAction.REASSIGN_TO_LEAD
    )
    [handoff_id] = raise_many(org, 1, priority="urgent")
    handoffs_sla_sweep(now=timezone.now() + LATER)
    handoff = Handoff.objects.get(pk=handoff_id)
    assert (handoff.assignee, handoff.status, handoff.escalated) == (
        org.users["morgan"],
        HandoffStatus.CLAIMED,
        True,
    )
    reassigned = HandoffEvent.objects.get(handoff=handoff, kind=HandoffEventKind.REASSIGNED)
    assert reassigned.data["to"] == "morgan" and reassigned.data["detail"] == "SLA escalation"
    escalated = HandoffEvent.objects.get(handoff=handoff, kind="escalated")
    assert escalated.data["detail"] == "given to Morgan Moss (Lead)"


def test_a_team_without_a_lead_escalates_to_its_director(org: Org):
    [handoff_id] = raise_many(org, 1, team="sales")
    handoffs_sla_sweep(now=timezone.now() + LATER)
    escalation = HandoffEvent.objects.get(handoff_id=handoff_id, kind="escalated")
    assert escalation.data["to"] == ["sam"]


def test_flag_only_marks_it_breached_and_tells_nobody(org: Org):
    with_emails(org)
    SlaPolicy.objects.create(
        team=org.teams["success"], priority="normal", on_breach=BreachAction.FLAG_ONLY
    )
    [handoff_id] = raise_many(org, 1)
    result = handoffs_sla_sweep(now=timezone.now() + LATER)
    handoff = Handoff.objects.get(pk=handoff_id)
    assert (result.breached, result.escalated) == (1, 0)
    assert (handoff.breached, handoff.escalated, handoff.escalation_due_at) == (True, False, None)
    assert mail.outbox == []


def test_a_team_with_nobody_to_escalate_to_says_so(org: Org):
    [handoff_id] = raise_many(org, 1, team="support")
    handoffs_sla_sweep(now=timezone.now() + LATER)
    handoff = Handoff.objects.get(pk=handoff_id)
    assert (handoff.breached, handoff.escalated) == (True, False)
    failed = HandoffEvent.objects.get(handoff=handoff, kind=HandoffEventKind.ESCALATION_FAILED)
    assert "no lead or director" in failed.data["detail"]


def test_a_breach_out_of_hours_is_flagged_at_once_and_alerted_at_the_next_opening(org: Org):
    """24/7 clock with office alerts would be odd; here the team is open 09:00–17:00 UTC and a
    next-reply target of two hours runs out at the 17:00 closing."""
    with_emails(org)
    calendar = BusinessCalendar.objects.create(name="Office", time_zone="UTC")
    OpeningPeriod.objects.bulk_create(
        OpeningPeriod(calendar=calendar, weekday=d, starts=time(9), ends=time(17)) for d in range(7)
    )
    TeamHours.objects.create(team=org.teams["success"], calendar=calendar)
    [handoff_id] = raise_many(org, 1)
    mail.outbox.clear()  # raised after 17:00 the contact is told when the team opens: not ours
    # The due time fell at a closing; the sweep runs a little after it.
    closing = datetime.combine(timezone.now().date(), time(17), tzinfo=UTC) + timedelta(days=1)
    Handoff.objects.filter(pk=handoff_id).update(first_response_due_at=closing, sla_due_at=closing)
    evening = closing + timedelta(minutes=5)
    result = handoffs_sla_sweep(now=evening)
    handoff = Handoff.objects.get(pk=handoff_id)
    assert (result.breached, result.escalated) == (1, 0)
    assert handoff.breached and not handoff.escalated
    next_morning = closing + timedelta(hours=16)
    assert handoff.escalation_due_at == next_morning
    assert "the lead is alerted at" in handoff.events.get(kind="breached").data["detail"]
    assert mail.outbox == []

    assert handoffs_sla_sweep(now=next_morning - timedelta(minutes=1)).escalated == 0
    assert handoffs_sla_sweep(now=next_morning).escalated == 1
    handoff.refresh_from_db()
    assert (handoff.escalated, handoff.escalation_due_at) == (True, None)
    assert [m.to for m in mail.outbox] == [["morgan@baton.example"]]


def test_a_paused_clock_is_not_swept_and_an_answered_first_reply_is_met(org: Org):
    SlaPolicy.objects.create(team=org.teams["success"], priority="normal", resolution_minutes=60)
    [handoff_id] = raise_many(org, 1)
    handoff_reply(handoff_id=handoff_id, user=org.users["casey"], body="On it")
    result = handoffs_sla_sweep(now=timezone.now() + timedelta(days=3))
    assert result.breached == 0
    assert not Handoff.objects.get(pk=handoff_id).breached


def test_a_resolved_handoff_is_never_flagged(org: Org):
    [handoff_id] = raise_many(org, 1)
    Handoff.objects.filter(pk=handoff_id).update(status=HandoffStatus.RESOLVED)
    assert handoffs_sla_sweep(now=timezone.now() + LATER).breached == 0


def test_two_sweepers_at_once_flag_and_escalate_each_handoff_exactly_once(org: Org):
    with_emails(org)
    membership_set(user=org.users["rob"], team=org.teams["success"], role=Role.LEAD)
    ids = raise_many(org, 40)
    later = timezone.now() + LATER

    results = run_concurrently(
        [
            lambda: handoffs_sla_sweep(now=later, batch_size=7),
            lambda: handoffs_sla_sweep(now=later, batch_size=7),
        ]
    )

    assert sum(r.breached for r in results) == 40
    assert sum(r.escalated for r in results) == 40
    assert events(HandoffEventKind.BREACHED) == Counter(dict.fromkeys(ids, 1))
    assert events(HandoffEventKind.ESCALATED) == Counter(dict.fromkeys(ids, 1))
    assert Handoff.objects.filter(pk__in=ids, breached=True, escalated=True).count() == 40
    # Two leads, each emailed once per handoff.
    assert Counter(m.to[0] for m in mail.outbox) == {
        "morgan@baton.example": 40,
        "rob@baton.example": 40,
    }


def test_a_large_backlog_drains_in_one_run_batch_by_batch(org: Org):
    ids = _bulk_overdue(org, 450)
    result = handoffs_sla_sweep(batch_size=100)
    assert result.breached == 450
    assert Handoff.objects.filter(pk__in=ids, breached=False).count() == 0
    assert HandoffEvent.objects.filter(kind=HandoffEventKind.BREACHED).count() == 450


def test_the_celery_task_runs_the_sweep(org: Org):
    [handoff_id] = raise_many(org, 1)
    past = timezone.now() - timedelta(minutes=1)
    Handoff.objects.filter(pk=handoff_id).update(first_response_due_at=past, sla_due_at=past)
    assert sla_sweep() == 1  # what beat and the embedded timer call
    assert Handoff.objects.get(pk=handoff_id).breached


def test_the_sweep_finds_due_handoffs_through_its_partial_index(org: Org):
    """Most rows are long resolved: the planner must reach the few due ones by the index."""
    _bulk_overdue(org, 4000, status=HandoffStatus.RESOLVED)
    _bulk_overdue(org, 20, prefix="live")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE handoffs_handoff")
    now = timezone.now()
    due = Handoff.objects.filter(
        status__in=["open", "claimed", "waiting_on_contact"], breached=False, sla_due_at__lte=now
    ).order_by("sla_due_at", "id")[:200]
    plan = due.explain()
    assert "handoff_sla_due_unbreached" in plan, plan
    escalations = Handoff.objects.filter(
        status__in=["open", "claimed", "waiting_on_contact"],
        escalated=False,
        escalation_due_at__lte=now,
    ).order_by("escalation_due_at", "id")[:200]
    assert "handoff_escalation_due" in escalations.explain()


def _bulk_overdue(
    org: Org, n: int, *, status: str = HandoffStatus.OPEN, prefix: str = "bulk"
) -> list[int]:
    contacts = Contact.objects.bulk_create(
        Contact(external_id=f"{prefix}-{status}-{i}", name=f"Bulk {i}") for i in range(n)
    )
    past = timezone.now() - timedelta(hours=1)
    rows: list[Any] = Handoff.objects.bulk_create(
        Handoff(
            team=org.teams["success"],
            contact=c,
            trigger=Trigger.COMPLEXITY,
            reason="Backlog",
            status=status,
            created_at=past - timedelta(hours=1),
            first_response_due_at=past,
            sla_due_at=past,
        )
        for c in contacts
    )
    return [h.pk for h in rows]


def test_what_the_sweep_announces_is_what_it_stored(org: Org):
    """The sweep announces the rows it holds rather than reading them again: every handoff's
    last event on the log must equal the handoff as stored, whatever the policy did to it
    (notified, given to the lead, flag only, nobody to escalate to)."""
    from handoffs.payloads import handoff_as_dict

    SlaPolicy.objects.create(
        team=org.teams["success"], priority="urgent", on_breach=BreachAction.REASSIGN_TO_LEAD
    )
    SlaPolicy.objects.create(
        team=org.teams["success"], priority="low", on_breach=BreachAction.FLAG_ONLY
    )
    ids = (
        raise_many(org, 2, priority="urgent")
        + raise_many(org, 2, team="sales")
        + raise_many(org, 1, team="support")
        + raise_many(org, 1, team="marketing", priority="high")
    )
    Contact.objects.filter(external_id__startswith="c-success-").update(
        external_id=Concat(F("external_id"), Value("-urgent"))
    )
    ids += raise_many(org, 1, priority="low")
    before = Event.objects.order_by("-id").values_list("id", flat=True).first()

    result = handoffs_sla_sweep(now=timezone.now() + timedelta(days=1))

    assert result.breached == len(ids)
    fresh = {h.pk: h for h in Handoff.objects.select_related("team", "contact", "assignee")}
    announced = {
        e.handoff_id: e.payload
        for e in Event.objects.filter(id__gt=before, type=EventType.HANDOFF_UPDATED).order_by("id")
    }
    assert sorted(announced) == sorted(ids)
    for handoff_id in ids:
        assert announced[handoff_id] == handoff_as_dict(fresh[handoff_id])
    assert fresh[ids[0]].assignee == org.users["morgan"]  # given to the lead, and shown so
    assert announced[ids[0]]["assignee"]["username"] == "morgan"
