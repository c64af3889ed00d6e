"""Tone rules on every automated send, through the real engine: the disclosure is appended
where it is missing (never twice), a banned phrase hands the contact to a person instead of
sending, and a promise holds the text for a person's approval."""

from typing import Any

import pytest

from governance.policies.models import Approval, TouchDecision
from governance.tests.test_policies_support import (
    DISCLOSURE,
    arrive,
    bodies,
    day_zone,
    nurture,
    three_days_pass,
    tone_rule,
)
from handoffs.models import Handoff, Message
from journeys.engine import journey_publish
from journeys.models import Enrollment, EnrollmentEvent, Step

pytestmark = pytest.mark.django_db(transaction=True)


def banned() -> Any:
    return tone_rule(name="No pressure", kind="banned", phrases="act now\nlimited time offer")


def promises() -> Any:
    return tone_rule(name="No promises", kind="promise", approval_expires_minutes=120)


def test_a_missing_disclosure_is_appended_and_an_existing_one_is_not_repeated(org, api_key):
    tone_rule(name="Disclosure", kind="disclosure", phrases=f"{DISCLOSURE}\nI'm a bot")
    journey = nurture()
    Step.objects.filter(journey=journey, key="nudge").update(
        config={"channel": "email", "template": "Just checking in", "disclose": False}
    )
    journey_publish(journey=journey)
    contact = arrive(api_key, zone=day_zone())

    three_days_pass()

    welcome, nudge = Message.objects.filter(conversation__contact=contact).order_by("id")
    assert welcome.body.count("Baton assistant (automated message)") == 1  # the runner's own
    assert nudge.body == f"Just checking in\n\n{DISCLOSURE}"  # the step said disclose: false
    assert not TouchDecision.objects.exists()  # adding a disclosure is not a suppression


def test_a_banned_phrase_blocks_the_send_and_hands_the_contact_to_a_person(org, api_key):
    rule = banned()
    nurture(nudge="Act now: this limited time offer ends soon!", team=org.teams["sales"])
    contact = arrive(api_key, zone=day_zone())

    three_days_pass()

    assert bodies(contact) == ["Welcome aboard!"]  # the nudge never went out
    handoff = Handoff.objects.get()
    assert (handoff.trigger, handoff.priority) == ("manual", "high")
    assert "No pressure" in handoff.reason and "Act now" in handoff.reason
    decision = TouchDecision.objects.get()
    assert (decision.action, decision.rule_kind, decision.rule_id) == ("blocked", "tone", rule.pk)
    assert Enrollment.objects.get().status == "paused_for_human"  # not silence: a person has it
    event = EnrollmentEvent.objects.get(kind="blocked")
    assert "No pressure" in event.detail and event.step == "nudge"


def test_a_promise_holds_the_text_in_an_approval_handoff_for_the_owning_team(org, api_key):
    rule = promises()
    nurture(nudge="Upgrade today for £99 per month.", team=org.teams["success"])
    contact = arrive(api_key, zone=day_zone())

    three_days_pass()

    assert bodies(contact) == ["Welcome aboard!"]  # held: nothing queued, nothing on the thread
    handoff = Handoff.objects.get(trigger="approval")  # (the journey went on to its call step)
    assert (handoff.trigger, handoff.team) == ("approval", org.teams["success"])
    assert "£99" in handoff.reason
    assert handoff.evidence[0]["type"] == "approval"
    approval = Approval.objects.get()
    assert approval.handoff == handoff and approval.decision == "pending"
    assert approval.original_text.startswith("Upgrade today for £99 per month.")
    assert "Baton assistant" in approval.original_text  # the disclosure is part of it
    assert {f["detail"] for f in approval.findings} >= {"price promise"}
    assert approval.expiry_action == "reject"  # the setting's default
    minutes = (approval.expires_at - approval.created_at).total_seconds() / 60
    assert minutes == 120  # the rule's own expiry
    decision = TouchDecision.objects.get()
    assert (decision.action, decision.rule_id) == ("held", rule.pk)
    assert Enrollment.objects.get().status == "paused_for_human"
    assert "held for approval" in EnrollmentEvent.objects.get(kind="held").detail


def test_a_team_tone_rule_governs_only_that_teams_touches(org, api_key):
    tone_rule(name="Sales: no pressure", kind="banned", phrases="act now", team=org.teams["sales"])
    nurture(nudge="Act now and reply!", team=org.teams["success"])
    contact = arrive(api_key, zone=day_zone())

    three_days_pass()

    assert bodies(contact) == ["Welcome aboard!", "Act now and reply!"]
    assert not TouchDecision.objects.exists()


def test_a_suppressed_touch_is_not_sent_for_approval(org, api_key):
    """Caps come first: a touch that would never go needs no person's review."""
    from governance.tests.test_policies_support import cap

    promises()
    cap(name="One email", limit=1, action="suppress")
    nurture(nudge="Upgrade today for £99 per month.")
    arrive(api_key, zone=day_zone())

    three_days_pass()

    assert not Handoff.objects.exists()
    assert TouchDecision.objects.get().action == "suppressed"
