"""A journey's first step runs in the worker after the enrolling signal commits (issue 7): the
ingest transaction only stores the enrollment, due now and waiting for its first step. These
tests hold the after-commit work back (`django_capture_on_commit_callbacks`) to play a worker
that has not come yet or never comes, and prove nothing is lost or done twice either way."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from conftest import run_concurrently, signal_body
from handoffs.models import Handoff, Message, OutboxEntry
from handoffs.services import handoff_claim, handoff_resolve
from journeys.choices import WAITING_FIRST_STEP, EnrollmentStatus, LoopStage
from journeys.engine import enrollments_due_sweep, journey_publish, latest_versions
from journeys.models import Enrollment, Journey, Stage, Step
from journeys.runner import waits_heard
from journeys.services import contact_upsert, enrollments_start_many
from journeys.tasks import enrollments_start

BATCH = "/api/v1/signals/batch/"
INBOUND = "/api/v1/messages/inbound/"


def build(steps: list[tuple[str, str, dict[str, Any]]], signal_type: str = "trial_started") -> None:
    journey = Journey.objects.create(name="Trial", slug="trial", enroll_on_signal_type=signal_type)
    stage = Stage.objects.create(journey=journey, name="Trial", loop_stage=LoopStage.ACQUIRE)
    for order, (key, kind, config) in enumerate(steps):
        Step.objects.create(
            journey=journey, stage=stage, key=key, order=order, kind=kind, config=config
        )
    journey_publish(journey=journey)


WELCOME_THEN_WAIT = [
    ("hello", "send_message", {"channel": "email", "template": "Welcome aboard!"}),
    ("wait", "wait", {"until": "activated", "minutes": 4320, "on_event": "done", "next": "done"}),
    ("done", "end", {"outcome": "completed"}),
]


def trial(external_id: str, signal_type: str = "trial_started") -> dict[str, Any]:
    return {
        "type": signal_type,
        "contact": {"external_id": external_id, "email": f"{external_id}@example.com"},
    }


def welcomes() -> list[str]:
    return sorted(
        Message.objects.filter(direction="out", body__startswith="Welcome aboard!").values_list(
            "conversation__contact__external_id", flat=True
        )
    )


@pytest.mark.django_db
def test_new_contacts_are_enrolled_in_the_batch_and_started_after_commit(
    org: Any, integration: Any, django_capture_on_commit_callbacks: Any
) -> None:
    build(WELCOME_THEN_WAIT)
    with django_capture_on_commit_callbacks(execute=True):  # first use: caches warm
        integration.post(BATCH, {"signals": [trial("warm")]}, format="json")
    batches = {}
    for size in (5, 50):
        items = [trial(f"n{size}-{i}") for i in range(size)]
        with (
            django_capture_on_commit_callbacks() as held,
            CaptureQueriesContext(connection) as queries,
        ):
            response = integration.post(BATCH, {"signals": items}, format="json")
        assert response.status_code == 202, response.content
        batches[size] = (len(queries), held)

    # The batch stores enrollments and runs no step: its cost does not grow with new contacts.
    assert batches[5][0] == batches[50][0]
    fresh = Enrollment.objects.exclude(contact__external_id="warm")
    assert fresh.count() == 55
    assert set(fresh.values_list("waiting_for", flat=True)) == {WAITING_FIRST_STEP}
    assert welcomes() == ["warm"]

    for _size, (_count, held) in batches.items():
        for callback in held:
            callback()  # the worker comes: one task per batch

    assert len(welcomes()) == 56
    assert set(Enrollment.objects.values_list("waiting_for", flat=True)) == {"activated"}


@pytest.mark.django_db
def test_a_lost_task_is_made_good_by_the_sweep(
    org: Any, integration: Any, django_capture_on_commit_callbacks: Any
) -> None:
    build(WELCOME_THEN_WAIT)
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost the task
        integration.post(BATCH, {"signals": [trial("a"), trial("b")]}, format="json")

    assert enrollments_due_sweep() == 2  # the sweep finds them due
    assert welcomes() == ["a", "b"]
    assert set(Enrollment.objects.values_list("waiting_for", flat=True)) == {"activated"}


@pytest.mark.django_db(transaction=True)
def test_the_task_and_the_sweep_together_run_each_first_step_once(org: Any) -> None:
    build(WELCOME_THEN_WAIT)
    journey = Journey.objects.get(slug="trial")
    contacts = [
        contact_upsert(external_id=f"t{i}", fields={"email": f"t{i}@example.com"})
        for i in range(20)
    ]
    with transaction.atomic():  # enrolled as ingest enrolls, no task queued
        started = enrollments_start_many(
            pairs=[(c, journey) for c in contacts], versions=latest_versions([journey])
        )
    ids = [e.pk for e in started]

    run_concurrently([lambda: enrollments_start(ids), enrollments_due_sweep, enrollments_due_sweep])

    assert welcomes() == sorted(f"t{i}" for i in range(20))  # one each
    assert set(Enrollment.objects.values_list("waiting_for", flat=True)) == {"activated"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("then", "status", "waiting_for", "welcomed"),
    [
        # The journey waits for "activated": the first step runs now, then the signal is heard.
        ("activated", EnrollmentStatus.COMPLETED, "", ["c"]),
        # Nothing in it waits for a page view: the first step is left to the worker.
        ("page_viewed", EnrollmentStatus.ACTIVE, WAITING_FIRST_STEP, []),
    ],
)
def test_a_signal_that_comes_before_the_worker(
    org: Any,
    integration: Any,
    django_capture_on_commit_callbacks: Any,
    then: str,
    status: str,
    waiting_for: str,
    welcomed: list[str],
) -> None:
    build(WELCOME_THEN_WAIT)
    with django_capture_on_commit_callbacks():  # the worker has not come
        integration.post(BATCH, {"signals": [trial("c")]}, format="json")
    with django_capture_on_commit_callbacks():
        integration.post(BATCH, {"signals": [trial("c", then)]}, format="json")

    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.waiting_for) == (status, waiting_for)
    assert welcomes() == welcomed


def test_what_a_journey_can_hear_is_every_wait_and_question_in_it() -> None:
    steps = [
        {"key": "q", "kind": "ask", "config": {"question": "?"}},
        {"key": "w1", "kind": "wait", "config": {"until": "activated", "minutes": 60}},
        {"key": "w2", "kind": "wait", "config": {"minutes": 60}},
        {"key": "s", "kind": "send_message", "config": {"until": "not-a-wait"}},
        "garbage",
    ]
    assert waits_heard({"steps": steps}) == {"reply", "activated"}
    assert waits_heard({"steps": steps[2:]}) == frozenset()
    assert waits_heard({}) == frozenset()


@pytest.mark.django_db
def test_a_reply_that_comes_before_the_worker_is_heard(
    org: Any, integration: Any, django_capture_on_commit_callbacks: Any
) -> None:
    build(
        [
            (
                "ask",
                "ask",
                {"channel": "email", "expect": "yes_no", "question": "Ready?", "field": "ready"},
            ),
            ("done", "end", {"outcome": "completed"}),
        ]
    )
    with django_capture_on_commit_callbacks(execute=False):  # the worker has not come
        integration.post(BATCH, {"signals": [trial("d")]}, format="json")
    reply = {
        "contact": {"external_id": "d"},
        "channel": "email",
        "body": "Yes",
        "external_id": "r1",
    }
    with django_capture_on_commit_callbacks(execute=True):  # the reply's own task runs
        assert integration.post(INBOUND, reply, format="json").status_code == 202

    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.state["answers"]) == ("completed", {"ready": True})


@pytest.mark.django_db(transaction=True)
def test_a_person_who_takes_over_before_the_first_step_keeps_the_contact(
    org: Any, integration: Any, django_capture_on_commit_callbacks: Any
) -> None:
    journey = Journey.objects.get(slug="lead-nurture")
    journey.stages.all().delete()
    journey.steps.all().delete()
    Stage.objects.create(journey=journey, name="Nurture", loop_stage=LoopStage.ACQUIRE)
    stage = journey.stages.get()
    for order, (key, kind, config) in enumerate(WELCOME_THEN_WAIT):
        Step.objects.create(
            journey=journey, stage=stage, key=key, order=order, kind=kind, config=config
        )
    journey_publish(journey=journey)

    # One signal enrolls the contact and raises a high-value handoff: the worker's first step
    # still runs, its welcome is held back at send time, and the journey waits for the person.
    assert integration.post("/api/v1/signals/", signal_body(), format="json").status_code == 202

    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.step) == (EnrollmentStatus.PAUSED_FOR_HUMAN, "wait")
    assert OutboxEntry.objects.get().status == "cancelled"
    handoff = Handoff.objects.get()
    handoff_claim(handoff_id=handoff.pk, user=org.users["riley"])
    handoff_resolve(
        handoff_id=handoff.pk, user=org.users["riley"], resolution="Called", resume_automation=True
    )
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.waiting_for) == (EnrollmentStatus.ACTIVE, "activated")
