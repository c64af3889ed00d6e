"""Caps and quiet hours wired into the real journey engine on PostgreSQL (PRODUCT.md flow 4):
a lead silent for three days gets the nudge — unless a cap or quiet hours forbid it, when it is
deferred or suppressed, counted by rule, and shown on the contact's timeline."""

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from conftest import key_client, run_concurrently
from governance.policies.models import TouchDecision
from governance.policies.services import deferrals_settle
from governance.tests.test_policies_support import (
    arrive,
    bodies,
    cap,
    day_zone,
    earlier_touch,
    night_zone,
    nurture,
    quiet,
    three_days_pass,
)
from handoffs.models import Handoff, Message, OutboxEntry
from handoffs.services import handoff_reply
from handoffs.services.raising import RaiseRequest, handoff_raise
from handoffs.tasks import outbox_sweep
from journeys.engine import journey_publish
from journeys.models import Enrollment, EnrollmentEvent, Journey, Stage, Step

pytestmark = pytest.mark.django_db(transaction=True)


def counted(action: str, rule: Any) -> int:
    return TouchDecision.objects.filter(action=action, rule_id=rule.pk).count()


def test_a_silent_lead_gets_the_nudge_when_no_rule_objects(org, api_key):
    nurture()
    cap()  # 3 emails a week: the welcome and the nudge are only two
    quiet(channels=["sms"])  # night where the contact is, but this email is not an SMS
    zone, _ = night_zone()
    contact = arrive(api_key, zone=zone)

    three_days_pass()

    assert bodies(contact) == ["Welcome aboard!", "Just checking in: any questions?"]
    assert set(OutboxEntry.objects.values_list("status", flat=True)) == {"sent"}
    assert not TouchDecision.objects.exists()
    assert Enrollment.objects.get().status == "completed"


def test_with_the_cap_reached_the_nudge_is_deferred_to_when_the_window_allows_and_counted(
    org, api_key
):
    nurture()
    rule = cap()
    zone = day_zone()
    contact = arrive(api_key, zone=zone)
    oldest = timezone.now() - timedelta(days=5)
    earlier_touch(contact, "email", oldest)  # from another team's journey
    earlier_touch(contact, "email", timezone.now() - timedelta(days=1))

    three_days_pass()

    nudge = Message.objects.get(step="nudge")
    entry = OutboxEntry.objects.get(message=nudge)
    assert entry.status == "queued"  # persisted, waiting for its time
    assert entry.next_attempt_at == oldest + timedelta(days=7, microseconds=1)
    assert not any(m.to == ["t-1@example.com"] and "checking in" in m.body for m in mail.outbox)
    decision = TouchDecision.objects.get()
    assert (decision.action, decision.rule_kind, decision.rule_id) == ("deferred", "cap", rule.pk)
    assert decision.message == nudge
    assert decision.defer_until == entry.next_attempt_at
    assert "3 per 7 days reached" in decision.reason
    assert counted("deferred", rule) == 1
    assert Enrollment.objects.get().status == "completed"  # the journey went on as designed


def test_with_a_suppressing_cap_the_nudge_is_not_queued_and_is_counted(org, api_key):
    nurture(channel="sms")
    rule = cap(name="SMS: 1 a day", limit=1, window_amount=1, channels=["sms"], action="suppress")
    contact = arrive(api_key, zone=day_zone())

    three_days_pass()

    assert bodies(contact) == ["Welcome aboard!"]  # the nudge was never queued
    decision = TouchDecision.objects.get()
    assert (decision.action, decision.rule_name, decision.channel) == (
        "suppressed",
        "SMS: 1 a day",
        "sms",
    )
    assert decision.message is None
    assert decision.text.startswith("Just checking in")
    assert counted("suppressed", rule) == 1
    assert Enrollment.objects.get().status == "completed"  # continues as if sent


def test_quiet_hours_defer_the_nudge_to_the_morning_in_the_contacts_zone(org, api_key):
    nurture()
    rule = quiet()
    zone, morning = night_zone()
    contact = arrive(api_key, zone=zone, external_id="t-night")
    # The welcome was also at night: deferred, then sent in the morning.
    welcome = OutboxEntry.objects.get(message__step="intro")
    assert welcome.next_attempt_at == morning
    OutboxEntry.objects.filter(pk=welcome.pk).update(status="sent", sent_at=timezone.now())

    three_days_pass()

    entry = OutboxEntry.objects.get(message__step="nudge", message__conversation__contact=contact)
    assert entry.status == "queued"
    assert entry.next_attempt_at == morning
    assert entry.next_attempt_at.astimezone(morning.tzinfo).hour == 8
    assert counted("deferred", rule) == 2
    assert TouchDecision.objects.filter(rule_kind="quiet_hours").count() == 2

    # The same moment is daytime for a contact elsewhere: no deferral.
    other = arrive(api_key, zone=day_zone(), external_id="t-day")
    assert OutboxEntry.objects.get(message__conversation__contact=other).status == "sent"


def test_a_deferred_touch_is_sent_exactly_once_when_its_time_comes(org, api_key):
    nurture()
    rule = cap(limit=1)
    contact = arrive(api_key, zone=day_zone())
    three_days_pass()  # the welcome used the one email allowed: the nudge waits a week
    entry = OutboxEntry.objects.get(message__step="nudge")
    assert entry.status == "queued"

    assert outbox_sweep() == 0  # not due yet: the sweep leaves it alone
    OutboxEntry.objects.filter(pk=entry.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    run_concurrently([outbox_sweep, outbox_sweep])

    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == ("sent", 1)
    assert sum("Just checking in" in m.body for m in mail.outbox) == 1

    run_concurrently([deferrals_settle, deferrals_settle])
    assert counted("sent_after_deferral", rule) == 1
    assert TouchDecision.objects.get(action="deferred").settled_at is not None
    outcome = EnrollmentEvent.objects.get(kind="deferred_outcome")
    assert "went out" in outcome.detail and rule.name in outcome.detail
    assert deferrals_settle() == 0
    assert bodies(contact) == ["Welcome aboard!", "Just checking in: any questions?"]


def test_a_deferred_touch_a_person_took_over_from_is_cancelled_not_sent(org, api_key):
    nurture()
    cap(limit=1)
    contact = arrive(api_key, zone=day_zone())
    three_days_pass()
    handoff_raise(
        request=RaiseRequest(
            contact=contact,
            team=org.teams["sales"],
            trigger="manual",
            priority="normal",
            reason="A person has it",
            evidence={"type": "manual"},
        )
    )
    OutboxEntry.objects.filter(message__step="nudge").update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )

    outbox_sweep()
    deferrals_settle()

    assert OutboxEntry.objects.get(message__step="nudge").status == "cancelled"
    assert not TouchDecision.objects.filter(action="sent_after_deferral").exists()
    assert "did not go out" in EnrollmentEvent.objects.get(kind="deferred_outcome").detail


def test_caps_count_the_contacts_touches_from_every_team_but_a_team_rule_governs_only_its_own(
    org, api_key
):
    nurture(team=org.teams["success"])  # Success's journey: its touches are Success's
    sales_cap = cap(name="Sales: 1 email", limit=1, team=org.teams["sales"])
    arrive(api_key, external_id="t-a", zone=day_zone())
    three_days_pass()
    assert not TouchDecision.objects.exists()  # Sales' cap does not govern Success's touches

    success_cap = cap(name="Success: 2 emails", limit=2, team=org.teams["success"])
    contact = arrive(api_key, external_id="t-b", zone=day_zone())  # the welcome: 1 of 2
    earlier_touch(contact, "email", timezone.now() - timedelta(hours=1))  # Sales' own email
    three_days_pass()

    decision = TouchDecision.objects.get()
    assert (decision.action, decision.rule_id) == ("deferred", success_cap.pk)
    assert decision.team == org.teams["success"] and decision.step == "nudge"
    assert counted("deferred", sales_cap) == 0


def test_human_replies_are_never_capped_or_held_by_quiet_hours(org, api_key):
    zone, _ = night_zone()
    cap(name="Never by email", limit=0, channels=[])
    quiet(channels=[])
    contact = arrive(api_key, zone=zone)
    handoff, _ = handoff_raise(
        request=RaiseRequest(
            contact=contact,
            team=org.teams["sales"],
            trigger="manual",
            priority="normal",
            reason="Talk to them",
            evidence={"type": "manual"},
        )
    )

    handoff_reply(handoff_id=handoff.pk, user=org.users["riley"], body="Hi Tess, Riley here.")

    reply = Message.objects.get(author=org.users["riley"])
    assert reply.outbox.status == "sent"
    assert not TouchDecision.objects.exists()
    assert Handoff.objects.get().status == "waiting_on_contact"


def test_an_answer_in_a_conversation_the_contact_is_having_is_not_held_back(org, api_key):
    """The bot's next message right after the contact wrote is conversation, not a touch to
    hold back (it still counts toward the caps)."""
    journey = Journey.objects.create(
        name="Screen", slug="screen", enroll_on_signal_type="trial_started"
    )
    stage = Stage.objects.create(journey=journey, name="Screen", loop_stage="acquire")
    ask = {"channel": "sms", "question": "Do you have a UK visa?", "field": "visa"}
    ask |= {"expect": "yes_no", "next": "thanks"}
    for order, (key, kind, config) in enumerate(
        [
            ("visa", "ask", ask),
            ("thanks", "send_message", {"channel": "sms", "template": "Thanks, noted."}),
            ("done", "end", {"outcome": "completed"}),
        ]
    ):
        Step.objects.create(
            journey=journey, stage=stage, key=key, order=order, kind=kind, config=config
        )
    journey_publish(journey=journey)
    quiet(channels=["sms"])
    zone, morning = night_zone()
    contact = arrive(api_key, zone=zone)
    assert OutboxEntry.objects.get(message__step="visa").next_attempt_at == morning

    inbound = {"contact": {"external_id": "t-1"}, "channel": "sms", "body": "yes"}
    response = key_client(api_key).post(
        "/api/v1/messages/inbound/", {**inbound, "external_id": "in-1"}, format="json"
    )
    assert response.status_code == 202

    thanks = OutboxEntry.objects.get(message__step="thanks")
    assert thanks.status == "sent"  # at night, but they are talking to us right now
    assert TouchDecision.objects.count() == 1  # only the question, which opened the talk
    assert Enrollment.objects.get(contact=contact).status == "completed"


def test_the_timeline_shows_deferrals_and_suppressions_with_their_rule(org, api_key, as_user):
    nurture(channel="sms", team=org.teams["sales"])
    cap(name="SMS: 1 a day", limit=1, window_amount=1, channels=["sms"], action="suppress")
    contact = arrive(api_key, zone=day_zone())
    three_days_pass()

    timeline = as_user("riley").get(f"/api/v1/contacts/{contact.pk}/timeline/").json()

    lines = [item["summary"] for item in timeline["results"]]
    assert any("SMS not sent — cap SMS: 1 a day: 1 per day reached" in line for line in lines)
    page = as_user("riley").get(f"/contacts/{contact.pk}/")
    assert "cap SMS: 1 a day: 1 per day reached" in page.content.decode()


def test_a_decision_loads_the_rules_set_based_whatever_their_number(org, api_key):
    """A touch costs the same few queries with one rule of each kind or five."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from governance.policies.services import AutomatedTouch, automated_send
    from governance.tests.test_policies_support import tone_rule

    nurture()
    contact = arrive(api_key, zone=day_zone())
    enrollment = Enrollment.objects.select_related("version", "journey").get()
    touch = AutomatedTouch(
        enrollment=enrollment,
        contact=contact,
        channel="email",
        address="t-1@example.com",
        step="nudge",
        subject="",
        body="Just checking in",
    )

    def queries() -> int:
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            automated_send(touch=touch)  # (delivery runs after commit: not counted)
        return len(captured)

    def rules(n: int) -> None:
        for i in range(n):
            cap(name=f"Cap {i}", limit=50)
            quiet(name=f"Quiet {i}", channels=["sms"])
            tone_rule(name=f"Banned {i}", kind="banned", phrases=f"never say {i}")

    rules(1)
    few = queries()
    rules(4)
    assert queries() == few
    # 3 rule kinds, the conversation check, the touch history, the thread, message and outbox
    assert few <= 8
