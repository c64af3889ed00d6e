"""The SLA clock on real handoffs (docs/sla.md): which target applies, raising in and out of
hours (the after-hours reply goes out once), and the pause while waiting on the contact.

Calendars here are built around the real clock ("open from two hours from now"), so nothing
mocks time: each test reads `timezone.now()` before and after the call it checks."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from conftest import Org
from governance.models import BusinessCalendar, HandoffRuleSla, OpeningPeriod, SlaPolicy, TeamHours
from handoffs.choices import Direction, HandoffEventKind, HandoffStatus, Trigger
from handoffs.models import Handoff, HandoffEvent, Message
from handoffs.services import (
    InboundMessage,
    RaiseRequest,
    handoff_claim,
    handoff_raise,
    handoff_reply,
    handoff_resolve,
    message_receive,
)
from journeys.models import Contact

pytestmark = pytest.mark.django_db


def contact(external_id: str = "c-1", **fields: Any) -> Contact:
    return Contact.objects.create(
        external_id=external_id, name="Ada Lovelace", email=f"{external_id}@example.com", **fields
    )


def raise_for(
    org: Org,
    who: Contact,
    *,
    team: str = "sales",
    trigger: str = Trigger.COMPLEXITY,
    priority: str = "urgent",
    rule: Any = None,
    step_minutes: int | None = None,
) -> Handoff:
    handoff, _ = handoff_raise(
        request=RaiseRequest(
            contact=who,
            team=org.teams[team],
            trigger=trigger,
            priority=priority,
            reason="Needs a person",
            evidence={"type": "test"},
            rule=rule,
            first_response_minutes=step_minutes,
        )
    )
    return Handoff.objects.get(pk=handoff.pk)


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def hours_from_now(org: Org, team: str, *, opens_in: timedelta, length: timedelta) -> datetime:
    """Give the team a UTC calendar open every day from `opens_in` from now for `length`
    (negative: open since); returns when today's opening is (to the minute)."""
    opening = floor_minute(timezone.now() + opens_in).astimezone(UTC)
    ends = opening + length
    calendar = BusinessCalendar.objects.create(name=f"{team} hours", time_zone="UTC")
    OpeningPeriod.objects.bulk_create(
        OpeningPeriod(
            calendar=calendar,
            weekday=day,
            starts=opening.time(),
            ends=ends.time(),
            overnight=ends.time() <= opening.time(),
        )
        for day in range(7)
    )
    TeamHours.objects.update_or_create(team=org.teams[team], defaults={"calendar": calendar})
    return opening


def after_hours_messages(who: Contact) -> list[Message]:
    return list(
        Message.objects.filter(
            conversation__contact=who, automated=True, body__startswith="I've logged this"
        )
    )


# --- which target, and from where -------------------------------------------------------------


def test_a_team_without_hours_or_policy_keeps_its_default_in_wall_time(org: Org):
    handoff = raise_for(org, contact())
    assert handoff.first_response_due_at == handoff.created_at + timedelta(minutes=15)
    assert handoff.sla_due_at == handoff.first_response_due_at
    assert handoff.sla_started_at == handoff.created_at
    assert (handoff.next_response_due_at, handoff.resolution_due_at) == (None, None)
    assert handoff.sla_clock.target == "first_response"
    assert "15 min (team default)" in handoff.events.get(kind="created").data["sla"]


PRECEDENCE = [
    # (what is set, expected first-reply minutes, named source)
    ({}, 15, "team default"),
    ({"policy": 30}, 30, "SLA policy"),
    ({"policy": 30, "rule": 10}, 10, "handoff rule"),
    ({"policy": 30, "rule": 10, "step": 240}, 240, "journey step"),
    ({"rule": 10}, 10, "handoff rule"),
    ({"policy": None, "step": 45}, 45, "journey step"),
]


@pytest.mark.parametrize(("setup", "minutes", "source"), PRECEDENCE)
def test_a_step_sla_beats_the_rule_which_beats_the_policy_which_beats_the_team_default(
    org: Org, setup: dict[str, Any], minutes: int, source: str
):
    if "policy" in setup:
        SlaPolicy.objects.create(
            team=org.teams["sales"], priority="urgent", first_response_minutes=setup["policy"]
        )
    if "rule" in setup:
        HandoffRuleSla.objects.create(rule=org.rule, first_response_minutes=setup["rule"])
    handoff = raise_for(org, contact(), rule=org.rule, step_minutes=setup.get("step"))
    assert handoff.first_response_due_at == handoff.created_at + timedelta(minutes=minutes)
    assert f"{minutes} min ({source})" in handoff.events.get(kind="created").data["sla"]


def test_a_policy_for_another_priority_does_not_apply(org: Org):
    SlaPolicy.objects.create(team=org.teams["sales"], priority="low", first_response_minutes=999)
    handoff = raise_for(org, contact(), priority="urgent")
    assert handoff.first_response_due_at == handoff.created_at + timedelta(minutes=15)


def test_the_resolution_target_is_due_in_business_time_too(org: Org):
    SlaPolicy.objects.create(team=org.teams["sales"], priority="urgent", resolution_minutes=600)
    opening = hours_from_now(org, "sales", opens_in=-timedelta(hours=1), length=timedelta(hours=8))
    handoff = raise_for(org, contact())
    # Open eight hours a day from an hour ago: about seven of the ten hours today (to the
    # closing), the rest tomorrow — so due 26 wall-clock hours after raising.
    assert handoff.resolution_due_at == handoff.created_at + timedelta(days=1, hours=2)
    assert opening + timedelta(days=1) < handoff.resolution_due_at
    assert handoff.sla_due_at == handoff.first_response_due_at  # the first reply runs out first


# --- in and out of hours ---------------------------------------------------------------------


def test_raised_in_hours_the_clock_starts_now_and_no_after_hours_reply_goes(org: Org):
    hours_from_now(org, "sales", opens_in=-timedelta(hours=1), length=timedelta(hours=8))
    who = contact()
    handoff = raise_for(org, who)
    assert handoff.first_response_due_at == handoff.created_at + timedelta(minutes=15)
    assert handoff.sla_started_at == handoff.created_at
    assert handoff.after_hours_replied_at is None
    assert after_hours_messages(who) == []


def test_raised_after_hours_the_clock_starts_at_the_opening_and_the_contact_is_told_once(
    org: Org,
):
    opening = hours_from_now(org, "sales", opens_in=timedelta(hours=2), length=timedelta(hours=8))
    who = contact()
    handoff = raise_for(org, who)
    assert handoff.sla_started_at == opening
    assert handoff.first_response_due_at == opening + timedelta(minutes=15)
    [reply] = after_hours_messages(who)
    assert reply.body.startswith("I've logged this for our team; a specialist will message you")
    assert reply.handoff_id == handoff.pk and reply.direction == Direction.OUT
    assert reply.channel == "email" and reply.outbox.to_address == "c-1@example.com"
    assert handoff.after_hours_replied_at is not None
    assert handoff.events.filter(kind=HandoffEventKind.AFTER_HOURS_REPLY).count() == 1

    # More evidence, or another handoff for the same contact before the team opens: no more.
    raise_for(org, who)
    raise_for(org, who, trigger=Trigger.SENTIMENT)
    assert len(after_hours_messages(who)) == 1


def test_a_contact_is_told_again_only_after_the_team_has_opened_in_between(org: Org):
    hours_from_now(org, "sales", opens_in=timedelta(hours=2), length=timedelta(hours=8))
    who = contact()
    first = raise_for(org, who)
    # Told yesterday evening; the team opened and closed since.
    Handoff.objects.filter(pk=first.pk).update(
        after_hours_replied_at=timezone.now() - timedelta(days=1)
    )
    raise_for(org, who, trigger=Trigger.SENTIMENT)
    assert len(after_hours_messages(who)) == 2


@pytest.mark.parametrize(
    ("why", "change"),
    [
        ("the team turned the reply off", {"hours": {"after_hours_reply_enabled": False}}),
        ("a journey's planned moment", {"trigger": Trigger.STAGE}),
        ("a held message for approval", {"trigger": Trigger.APPROVAL}),
        (
            "they opted out of the channel they use",
            {
                "contact": {
                    "last_inbound_channel": "sms",
                    "opted_out_channels": ["sms"],
                    "phone": "+447700900123",
                }
            },
        ),
    ],
)
def test_no_after_hours_reply_when(org: Org, why: str, change: dict[str, Any]):
    hours_from_now(org, "sales", opens_in=timedelta(hours=2), length=timedelta(hours=8))
    TeamHours.objects.filter(team=org.teams["sales"]).update(**change.get("hours", {}))
    who = contact(**change.get("contact", {}))
    handoff = raise_for(org, who, trigger=change.get("trigger", Trigger.COMPLEXITY))
    assert after_hours_messages(who) == [], why
    assert handoff.first_response_due_at > handoff.created_at + timedelta(hours=1), why


def test_an_unreachable_contact_still_gets_a_handoff_with_the_clock_at_the_opening(org: Org):
    opening = hours_from_now(org, "sales", opens_in=timedelta(hours=2), length=timedelta(hours=8))
    who = Contact.objects.create(external_id="c-nobody", name="No Address")
    handoff = raise_for(org, who)
    assert handoff.first_response_due_at == opening + timedelta(minutes=15)
    assert after_hours_messages(who) == [] and handoff.after_hours_replied_at is None


def test_a_custom_after_hours_reply_is_signed_as_the_assistant(org: Org):
    hours_from_now(org, "sales", opens_in=timedelta(hours=2), length=timedelta(hours=8))
    TeamHours.objects.filter(team=org.teams["sales"]).update(
        after_hours_reply="Thanks — the Sales team is back at nine."
    )
    who = contact()
    raise_for(org, who)
    reply = Message.objects.get(conversation__contact=who, automated=True)
    assert reply.body.startswith("Thanks — the Sales team is back at nine.\n\n")
    assert "automated" in reply.body.lower() or "assistant" in reply.body.lower()


# --- waiting on the contact ------------------------------------------------------------------


def answer(who: Contact, text: str = "Thanks, that helps", n: int = 1) -> None:
    message_receive(
        message=InboundMessage(
            contact={"external_id": who.external_id},
            account=None,
            channel="email",
            body=text,
            external_id=f"{who.external_id}-in-{n}",
        )
    )


def policy(org: Org, **fields: Any) -> SlaPolicy:
    fields.setdefault("first_response_minutes", 15)
    fields.setdefault("next_response_minutes", 30)
    fields.setdefault("resolution_minutes", 240)
    return SlaPolicy.objects.create(team=org.teams["success"], priority="normal", **fields)


def test_a_human_reply_pauses_the_clock_and_the_contacts_answer_resumes_it(org: Org):
    policy(org)
    who = contact()
    handoff = raise_for(org, who, team="success", priority="normal")
    casey = org.users["casey"]
    handoff_claim(handoff_id=handoff.pk, user=casey)
    handoff_reply(handoff_id=handoff.pk, user=casey, body="Let me look into it")
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.WAITING_ON_CONTACT
    assert handoff.sla_paused_at is not None and handoff.next_response_due_at is None
    assert handoff.sla_clock is None and handoff.sla_due_at is None  # nothing runs

    # The contact takes an hour to answer: the resolution due moves on by that hour.
    paused_at = timezone.now() - timedelta(hours=1)
    Handoff.objects.filter(pk=handoff.pk).update(sla_paused_at=paused_at)
    due_before = handoff.resolution_due_at
    before = timezone.now()
    answer(who)
    after = timezone.now()
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.CLAIMED and handoff.sla_paused_at is None
    assert due_before + (before - paused_at) <= handoff.resolution_due_at
    assert handoff.resolution_due_at <= due_before + (after - paused_at)
    assert 3600 <= handoff.sla_paused_seconds <= 3600 + (after - before).total_seconds() + 1
    assert before + timedelta(minutes=30) <= handoff.next_response_due_at
    assert handoff.next_response_due_at <= after + timedelta(minutes=30)
    assert handoff.sla_clock.target == "next_response"
    assert handoff.sla_due_at == handoff.next_response_due_at

    # The next human reply meets it; the clock pauses again.
    handoff_reply(handoff_id=handoff.pk, user=casey, body="Done: your seats are added")
    handoff.refresh_from_db()
    assert (handoff.next_response_due_at, handoff.sla_due_at) == (None, None)
    assert handoff.sla_paused_at is not None


def test_without_the_pause_the_resolution_clock_runs_while_waiting(org: Org):
    policy(org, pause_while_waiting=False)
    who = contact()
    handoff = raise_for(org, who, team="success", priority="normal")
    casey = org.users["casey"]
    handoff_reply(handoff_id=handoff.pk, user=casey, body="Let me look into it")
    handoff.refresh_from_db()
    assert handoff.sla_paused_at is None
    assert handoff.sla_clock.target == "resolution"
    assert handoff.sla_due_at == handoff.resolution_due_at
    due = handoff.resolution_due_at
    answer(who)
    handoff.refresh_from_db()
    assert handoff.resolution_due_at == due  # never stopped, so never moved
    assert handoff.sla_paused_seconds == 0


def test_a_reopened_handoff_gets_new_reply_and_resolution_clocks(org: Org):
    policy(org)
    who = contact()
    handoff = raise_for(org, who, team="success", priority="normal")
    casey = org.users["casey"]
    handoff_reply(handoff_id=handoff.pk, user=casey, body="Here you go")
    handoff_resolve(
        handoff_id=handoff.pk, user=casey, resolution="Answered", resume_automation=False
    )
    before = timezone.now()
    answer(who, "One more thing…")
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.CLAIMED
    assert handoff.next_response_due_at >= before + timedelta(minutes=30)
    assert handoff.resolution_due_at >= before + timedelta(minutes=240)
    assert handoff.sla_due_at == handoff.next_response_due_at


def test_a_contact_writing_twice_before_anyone_replied_moves_nothing(org: Org):
    policy(org)
    who = contact()
    handoff = raise_for(org, who, team="success", priority="normal")
    Handoff.objects.filter(pk=handoff.pk).update(status=HandoffStatus.OPEN)
    answer(who, "Hello?", n=1)
    answer(who, "Anyone there?", n=2)
    fresh = Handoff.objects.get(pk=handoff.pk)
    assert fresh.first_response_due_at == handoff.first_response_due_at
    assert fresh.next_response_due_at is None
    assert fresh.sla_due_at == handoff.sla_due_at


def test_the_events_say_why_the_clock_started_when_it_did(org: Org):
    opening = hours_from_now(org, "sales", opens_in=timedelta(hours=2), length=timedelta(hours=8))
    handoff = raise_for(org, contact())
    created = HandoffEvent.objects.get(handoff=handoff, kind="created")
    assert "raised after hours, the clock starts" in created.data["sla"]
    assert f"{opening:%H:%M}" in created.data["sla"]
    assert time(0) <= opening.time()  # a UTC calendar: the label is read in UTC


def test_the_terms_cost_two_queries_and_a_calendar_is_read_once_per_version(
    org: Org, django_assert_num_queries: Any
):
    from governance.selectors import sla_terms

    hours_from_now(org, "sales", opens_in=timedelta(hours=2), length=timedelta(hours=8))
    team = org.teams["sales"]
    with django_assert_num_queries(4):  # hours + policy, then the calendar's periods, holidays
        sla_terms(team_id=team.pk, priority="urgent")
    with django_assert_num_queries(2):  # the calendar is cached until it changes
        sla_terms(team_id=team.pk, priority="urgent")
    with django_assert_num_queries(3):  # a rule's own minutes: one more
        sla_terms(team_id=team.pk, priority="urgent", rule_id=org.rule.pk)
    calendar = BusinessCalendar.objects.get()
    OpeningPeriod.objects.create(calendar=calendar, weekday=0, starts=time(1), ends=time(2))
    with django_assert_num_queries(4):  # a new period: read again
        terms = sla_terms(team_id=team.pk, priority="urgent")
    assert len(terms.calendar.periods) == 8
