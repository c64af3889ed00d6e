"""What a journey leaves behind: stays in stages (the journey map's figures), the step it is at,
and a timeline entry, naming the journey and step, for every touch, wait, branch and stage."""

from typing import Any

import pytest

from conftest import key_client
from handoffs.models import Message
from journeys.choices import LoopStage
from journeys.engine import journey_publish
from journeys.models import Enrollment, EnrollmentEvent, Journey, Stage, StageVisit, Step
from journeys.selectors import contact_timeline

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def onboarding(org: Any) -> Journey:
    """Kick-off (send, then wait for `activated` or a day) → Adoption (branch, send, end)."""
    journey = Journey.objects.create(
        name="Trial onboarding", slug="trial-onboarding-test", enroll_on_signal_type="trial_started"
    )
    kickoff = Stage.objects.create(
        journey=journey, name="Kick-off", loop_stage=LoopStage.ONBOARD, order=0
    )
    adoption = Stage.objects.create(
        journey=journey, name="Adoption", loop_stage=LoopStage.ADOPT, order=1
    )
    steps = [
        (kickoff, "welcome", "send_message", {"channel": "email", "template": "Welcome!"}),
        (
            kickoff,
            "wait_activation",
            "wait",
            {"until": "activated", "minutes": 1440, "on_event": "check", "on_timeout": "lost"},
        ),
        (
            adoption,
            "check",
            "branch",
            {
                "condition": {"path": "contact.name", "op": "==", "value": "Tess"},
                "then": "tips",
                "else": "tips",
            },
        ),
        (adoption, "tips", "send_message", {"channel": "email", "template": "Three tips"}),
        (adoption, "done", "end", {"outcome": "completed"}),
        (kickoff, "lost", "end", {"outcome": "dropped"}),
    ]
    for order, (stage, key, kind, config) in enumerate(steps):
        Step.objects.create(
            journey=journey, stage=stage, key=key, order=order, kind=kind, config=config
        )
    journey_publish(journey=journey)
    return journey


def signal(api_key: str, type_: str, external_id: str = "t-1", **properties: Any) -> None:
    body = {
        "type": type_,
        "contact": {"external_id": external_id, "name": "Tess", "email": "tess@example.com"},
        "properties": properties,
    }
    assert key_client(api_key).post("/api/v1/signals/", body, format="json").status_code == 202


def test_a_waiting_journey_hears_its_signal_and_moves_into_the_next_stage(org, onboarding, api_key):
    signal(api_key, "trial_started")
    enrollment = Enrollment.objects.get()
    assert (enrollment.step, enrollment.stage.name) == ("wait_activation", "Kick-off")
    assert enrollment.waiting_for == "activated"

    signal(api_key, "activated")

    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    visits = list(StageVisit.objects.order_by("id").values_list("stage__name", "outcome"))
    assert visits == [("Kick-off", "advanced"), ("Adoption", "completed")]
    assert all(v.left_at is not None for v in StageVisit.objects.all())


def test_the_signal_that_enrolls_does_not_also_end_the_wait(org, api_key):
    journey = Journey.objects.create(name="Repeat", slug="repeat", enroll_on_signal_type="ping")
    stage = Stage.objects.create(journey=journey, name="Only", loop_stage=LoopStage.ADOPT)
    Step.objects.create(
        journey=journey, stage=stage, key="wait", order=0, kind="wait", config={"until": "ping"}
    )
    Step.objects.create(
        journey=journey,
        stage=stage,
        key="end",
        order=1,
        kind="end",
        config={"outcome": "completed"},
    )
    journey_publish(journey=journey)

    signal(api_key, "ping")
    assert Enrollment.objects.get().status == "active"

    signal(api_key, "ping")  # ends the first wait, and (no longer live) enrolls again
    statuses = list(Enrollment.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["completed", "active"]


def test_every_touch_wait_branch_and_stage_is_on_the_timeline_with_its_step(
    org, onboarding, api_key
):
    signal(api_key, "trial_started")
    signal(api_key, "activated")
    enrollment = Enrollment.objects.get()

    items = contact_timeline(
        contact=enrollment.contact, principal=org.users["olive"], offset=0, limit=100
    )

    journey_items = [(i.kind, i.data.get("step"), i.summary) for i in items if "journey" in i.data]
    steps_seen = {(kind, step) for kind, step, _ in journey_items}
    assert ("stage", None) in steps_seen  # enrolled
    assert ("step", "wait_activation") in steps_seen  # the wait, then the signal that ended it
    assert ("stage", "check") in steps_seen  # entering Adoption, at the step that did it
    assert ("step", "check") in steps_seen  # the branch taken
    assert ("step", "done") in steps_seen  # the end
    branch = next(s for k, step, s in journey_items if step == "check" and k == "step")
    assert branch.startswith("Trial onboarding, step check: Branch check: the condition held")
    messages = [i for i in items if i.kind == "message"]
    assert {(m.data["journey"], m.data["step"]) for m in messages} == {
        ("Trial onboarding", "welcome"),
        ("Trial onboarding", "tips"),
    }
    assert "(Trial onboarding, step tips)" in messages[0].summary
    assert Message.objects.filter(enrollment=enrollment).count() == 2


def test_entering_a_step_is_not_logged_on_its_own(org, onboarding, api_key):
    signal(api_key, "trial_started")

    kinds = set(EnrollmentEvent.objects.values_list("kind", flat=True))

    assert "entered" not in kinds
    assert {"enrolled", "waiting"} <= kinds


def test_a_journey_enrolls_only_signals_that_match_its_condition(org, onboarding, api_key):
    Journey.objects.filter(pk=onboarding.pk).update(
        enroll_condition={"path": "properties.plan", "op": "==", "value": "pro"}
    )

    signal(api_key, "trial_started", external_id="t-basic", plan="basic")
    signal(api_key, "trial_started", external_id="t-pro", plan="pro")

    enrolled = set(Enrollment.objects.values_list("contact__external_id", flat=True))
    assert enrolled == {"t-pro"}


def test_what_governance_did_is_its_own_timeline_kind(org, onboarding, api_key):
    signal(api_key, "trial_started")
    enrollment = Enrollment.objects.get()
    EnrollmentEvent.objects.create(
        enrollment=enrollment, kind="suppressed", detail="SMS not sent — cap 1 SMS a day"
    )
    everything = contact_timeline(
        contact=enrollment.contact, principal=org.users["olive"], offset=0, limit=100
    )

    only = contact_timeline(
        contact=enrollment.contact,
        principal=org.users["olive"],
        offset=0,
        limit=100,
        kinds=frozenset({"governance"}),
    )
    steps = contact_timeline(
        contact=enrollment.contact,
        principal=org.users["olive"],
        offset=0,
        limit=100,
        kinds=frozenset({"step"}),
    )

    assert [i.kind for i in only] == ["governance"]
    assert "governance" in {i.kind for i in everything}
    assert all(i.kind == "step" for i in steps) and steps
