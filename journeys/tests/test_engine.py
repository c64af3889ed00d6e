"""Journeys that run, end to end through the API: the recruitment screen, the 3-day follow-up
with two sweepers, resume after a handoff, and the send-time check."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from conftest import key_client, run_concurrently
from handoffs.models import Handoff, Message, OutboxEntry
from handoffs.services import handoff_resolve
from journeys.choices import LoopStage
from journeys.engine import enrollments_due_sweep, journey_publish
from journeys.models import Enrollment, Journey, Stage, Step
from portal.errors import InvalidInput

INBOUND = "/api/v1/messages/inbound/"

# Replies reach journeys after commit (journeys/tasks.py): run with real commits.
pytestmark = pytest.mark.django_db(transaction=True)


def build(journey: Journey, steps: list[tuple[str, str, dict[str, Any]]], team: Any = None) -> None:
    stage = Stage.objects.create(journey=journey, name="Screening", loop_stage=LoopStage.ACQUIRE)
    for order, (key, kind, config) in enumerate(steps):
        Step.objects.create(
            journey=journey,
            stage=stage,
            key=key,
            order=order,
            kind=kind,
            config=config,
            team=team if kind == "handoff" else None,
        )


@pytest.fixture
def recruitment(org: Any) -> Journey:
    journey = Journey.objects.create(
        name="Recruitment", slug="recruitment", enroll_on_signal_type="application_submitted"
    )
    ask = {"channel": "sms", "expect": "yes_no"}
    build(
        journey,
        [
            (
                "visa",
                "ask",
                {
                    **ask,
                    "question": "Do you have the right to work in the UK?",
                    "field": "visa",
                    "pass": {"op": "==", "value": True},
                    "on_fail": "reject",
                },
            ),
            (
                "experience",
                "ask",
                {
                    "channel": "sms",
                    "expect": "years",
                    "field": "experience",
                    "question": "How many years of experience do you have?",
                    "pass": {"op": ">=", "value": 1},
                    "on_fail": "reject",
                },
            ),
            (
                "notice",
                "ask",
                {
                    "channel": "sms",
                    "expect": "weeks",
                    "field": "notice",
                    "question": "What is your notice period?",
                    "pass": {"op": "<=", "value": 8},
                    "on_fail": "reject",
                },
            ),
            (
                "book",
                "send_message",
                {"channel": "sms", "template": "Book your interview: https://example.com/b"},
            ),
            (
                "interview",
                "handoff",
                {
                    "team": "sales",
                    "priority": "normal",
                    "trigger": "qualification",
                    "reason": "Visa {answers.visa}, {answers.experience} years, "
                    "{answers.notice} weeks' notice",
                },
            ),
            ("done", "end", {"outcome": "completed"}),
            (
                "reject",
                "send_message",
                {"channel": "sms", "template": "Thank you for applying; we can't go on."},
            ),
            ("rejected", "end", {"outcome": "dropped"}),
        ],
        team=org.teams["sales"],
    )
    journey_publish(journey=journey)
    return journey


def apply(api_key: str, external_id: str = "a-1") -> None:
    body = {
        "type": "application_submitted",
        "contact": {"external_id": external_id, "name": "Alex Applicant", "phone": "+447700900555"},
    }
    assert key_client(api_key).post("/api/v1/signals/", body, format="json").status_code == 202


def answer(api_key: str, text: str, n: int, external_id: str = "a-1") -> None:
    body = {
        "contact": {"external_id": external_id},
        "channel": "sms",
        "body": text,
        "external_id": f"in-{external_id}-{n}",
    }
    assert key_client(api_key).post(INBOUND, body, format="json").status_code == 202


def sent(external_id: str = "a-1") -> list[str]:
    return list(
        Message.objects.filter(conversation__contact__external_id=external_id, direction="out")
        .order_by("id")
        .values_list("body", flat=True)
    )


def test_a_journey_that_cannot_run_is_refused_with_reasons(org):
    journey = Journey.objects.create(name="Broken", slug="broken")
    build(journey, [("wait", "wait", {})])

    with pytest.raises(InvalidInput) as refused:
        journey_publish(journey=journey)

    assert any("would never end" in e for e in refused.value.errors["definition"])
    assert not journey.versions.exists()


def test_an_applicant_who_passes_gets_the_booking_link_and_a_qualification_handoff(
    org, recruitment, api_key
):
    apply(api_key)
    assert "right to work" in sent()[0]
    assert "automated" in sent()[0]  # transparency: the bot says it is a bot

    for n, text in enumerate(["yep", "2 years", "a month"]):
        answer(api_key, text, n)

    assert "Book your interview" in sent()[-1]
    handoff = Handoff.objects.get(trigger="qualification")
    assert handoff.reason.startswith("Visa yes, 2 years, 4 weeks' notice")
    assert Enrollment.objects.get().status == "paused_for_human"
    booking = OutboxEntry.objects.get(message__body__contains="Book your interview")
    assert booking.status == "sent"  # part of the handover, not held back


def test_a_failing_answer_gets_a_polite_rejection_and_ends_the_journey(org, recruitment, api_key):
    apply(api_key)
    answer(api_key, "no visa", 0)

    assert (
        sent()[-1]
        == "Thank you for applying; we can't go on.\n\n— Baton assistant (automated message)"
    )
    assert Enrollment.objects.get().status == "dropped"
    assert not Handoff.objects.exists()


def test_resolving_the_interview_with_resume_completes_the_journey(org, recruitment, api_key):
    apply(api_key)
    for n, text in enumerate(["yes", "3 years", "2 weeks"]):
        answer(api_key, text, n)
    handoff = Handoff.objects.get()

    handoff_resolve(
        handoff_id=handoff.pk,
        user=org.users["riley"],
        resolution="Interview booked",
        resume_automation=True,
    )

    assert Enrollment.objects.get().status == "completed"


@pytest.fixture
def follow_up(org: Any) -> Journey:
    journey = Journey.objects.create(
        name="Follow-up", slug="follow-up", enroll_on_signal_type="trial_started"
    )
    build(
        journey,
        [
            ("intro", "send_message", {"channel": "email", "template": "Welcome aboard!"}),
            (
                "wait_reply",
                "wait",
                {"until": "reply", "minutes": 4320, "on_event": "done", "on_timeout": "nudge"},
            ),
            ("nudge", "send_message", {"channel": "email", "template": "Just checking in"}),
            ("done", "end", {"outcome": "completed"}),
        ],
    )
    journey_publish(journey=journey)
    return journey


def start_trial(api_key: str) -> None:
    body = {"type": "trial_started", "contact": {"external_id": "t-1", "email": "t@example.com"}}
    assert key_client(api_key).post("/api/v1/signals/", body, format="json").status_code == 202


def test_a_due_follow_up_fires_exactly_once_with_two_sweepers(org, follow_up, api_key):
    start_trial(api_key)
    enrollment = Enrollment.objects.get()
    assert enrollment.due_at > timezone.now() + timedelta(days=2, hours=23)
    Enrollment.objects.update(due_at=timezone.now() - timedelta(seconds=1))

    run_concurrently([enrollments_due_sweep, enrollments_due_sweep])

    assert [b.split("\n")[0] for b in sent("t-1")] == ["Welcome aboard!", "Just checking in"]
    assert Enrollment.objects.get().status == "completed"


def test_a_reply_before_the_due_time_cancels_the_nudge(org, follow_up, api_key):
    start_trial(api_key)
    answer(api_key, "Thanks, all good", 0, external_id="t-1")
    Enrollment.objects.update(due_at=timezone.now() - timedelta(seconds=1))

    enrollments_due_sweep()

    assert [b.split("\n")[0] for b in sent("t-1")] == ["Welcome aboard!"]
    assert Enrollment.objects.get().status == "completed"


def test_an_automated_message_is_held_back_when_a_person_took_over_before_it_went(
    org, api_key, send_signal
):
    journey = Journey.objects.get(slug="lead-nurture")
    build(journey, [("hello", "send_message", {"channel": "email", "template": "Hello!"})])
    journey.stages.exclude(steps__isnull=False).delete()
    journey_publish(journey=journey)

    send_signal(budget=90000)  # enrolls (the hello is composed) and raises a high-value handoff

    entry = OutboxEntry.objects.get(message__body__startswith="Hello!")
    assert entry.status == "cancelled"
    assert Handoff.objects.get().trigger == "high_value"
