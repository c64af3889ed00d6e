"""Ops by hand: enroll a contact, unenroll it, move enrollments to a new journey version — the
services, the Django admin pages that call them, and what the contact's timeline says."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from conftest import run_concurrently
from handoffs.choices import OutboxStatus
from handoffs.models import Handoff, OutboxEntry
from journeys.choices import EnrollmentStatus, LoopStage, VisitOutcome
from journeys.engine import enrollment_advance, journey_publish
from journeys.models import (
    Contact,
    Enrollment,
    EnrollmentEvent,
    Journey,
    JourneyVersion,
    Stage,
    StageVisit,
    Step,
)
from journeys.selectors import contact_timeline
from journeys.services import (
    enrollment_enroll_by_hand,
    enrollment_unenroll,
    enrollments_migrate,
)
from portal.errors import Conflict, InvalidInput
from portal.services import membership_remove

ENROLLMENTS = "/admin/journeys/enrollment/"
CONTACTS = "/admin/journeys/contact/"
JOURNEYS = "/admin/journeys/journey/"

STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("hello", "send_message", {"channel": "email", "template": "Hi {contact.first_name}!"}),
    (
        "visa",
        "ask",
        {
            "channel": "email",
            "question": "Do you have a visa?",
            "field": "visa",
            "expect": "yes_no",
        },
    ),
    (
        "plan",
        "ask",
        {
            "channel": "email",
            "question": "Which plan?",
            "field": "plan",
            "expect": "text",
            "timeout_minutes": 60,
        },
    ),
    ("done", "end", {"outcome": "completed"}),
]


def publish(journey: Journey, steps: list[tuple[str, str, dict[str, Any]]]) -> JourneyVersion:
    """Make the journey's steps exactly `steps` and publish them."""
    stage = journey.stages.get()
    Step.objects.filter(journey=journey).delete()
    for order, (key, kind, config) in enumerate(steps):
        Step.objects.create(
            journey=journey, stage=stage, key=key, order=order, kind=kind, config=config
        )
    version, _ = journey_publish(journey=journey)
    return version


def replace(key: str, kind: str, config: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(key, kind, config) if step[0] == key else step for step in STEPS]


@pytest.fixture
def welcome(org: Any) -> Journey:
    journey = Journey.objects.create(name="Welcome", slug="welcome")
    Stage.objects.create(journey=journey, name="Screening", loop_stage=LoopStage.ACQUIRE)
    publish(journey, STEPS)
    return journey


def contact_seen_by(
    org: Any, external_id: str, team: str = "sales", name: str = "Bob Babbage"
) -> Contact:
    """A contact that `team` has handled (a resolved handoff), so its people see it."""
    contact = Contact.objects.create(
        external_id=external_id, name=name, email=f"{external_id}@example.com"
    )
    now = timezone.now()
    Handoff.objects.create(
        team=org.teams[team],
        contact=contact,
        trigger="manual",
        reason="earlier",
        status="resolved",
        created_at=now,
        first_response_due_at=now,
    )
    return contact


@pytest.fixture
def ada(org: Any) -> Contact:
    return contact_seen_by(org, "c-ada", name="Ada Lovelace")


@pytest.fixture
def olive(org: Any) -> Any:
    return org.users["olive"]


def at_plan(enrollment: Enrollment) -> Enrollment:
    """Answer the visa question, so the enrollment waits at `plan` with an answer stored."""
    event = {"kind": "reply", "text": "yes", "channel": "email", "message_id": 1}
    result = enrollment_advance(enrollment_id=enrollment.pk, event=event)
    assert result is not None and result.step == "plan"
    return result


# --- enrolling by hand ---------------------------------------------------------------------


def test_enrolling_by_hand_starts_the_live_version_and_says_who_did_it(welcome, ada, olive):
    enrollment = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)

    assert enrollment.version == welcome.versions.get()
    assert (enrollment.status, enrollment.step, enrollment.waiting_for) == (
        "active",
        "visa",
        "reply",
    )
    assert enrollment.state["step"] == "visa"
    assert OutboxEntry.objects.filter(message__enrollment=enrollment).count() == 2
    enrolled = enrollment.events.get(kind="enrolled")
    assert enrolled.actor == olive
    assert enrolled.detail == "Enrolled by hand in Welcome v1 at Screening"


def test_enrolling_a_contact_already_in_the_journey_is_a_conflict(welcome, ada, olive):
    enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)

    with pytest.raises(Conflict, match="Ada Lovelace is already in Welcome"):
        enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)

    assert Enrollment.objects.filter(contact=ada).count() == 1


def test_enrolling_in_an_inactive_journey_is_a_conflict(welcome, ada, olive):
    Journey.objects.filter(pk=welcome.pk).update(is_active=False)
    welcome.refresh_from_db()

    with pytest.raises(Conflict, match="Welcome is inactive"):
        enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)

    assert not Enrollment.objects.exists()


def test_enrolling_in_an_unpublished_journey_is_a_conflict(org, ada, olive):
    with pytest.raises(Conflict, match="Lead nurture has no published version"):
        enrollment_enroll_by_hand(contact=ada, journey=org.journey, actor=olive)

    assert not Enrollment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_people_enrolling_the_same_contact_at_once_make_one_enrollment(welcome, ada, olive):
    def enroll() -> Any:
        try:
            return enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)
        except Conflict as refusal:
            return refusal

    outcomes = run_concurrently([enroll, enroll])

    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "Enrollment"]
    assert Enrollment.objects.filter(contact=ada, journey=welcome).count() == 1
    assert EnrollmentEvent.objects.filter(kind="enrolled").count() == 1


# --- unenrolling ---------------------------------------------------------------------------


def test_unenrolling_ends_the_enrollment_and_its_stay_in_the_stage(welcome, ada, olive):
    enrollment = at_plan(enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive))
    assert enrollment.due_at is not None

    enrollment_unenroll(enrollment_id=enrollment.pk, actor=olive, reason="Asked us to stop")

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.DROPPED
    assert (enrollment.due_at, enrollment.waiting_for) == (None, "")
    assert enrollment.state["status"] == "dropped"
    assert enrollment.state["answers"] == {"visa": True}
    visit = StageVisit.objects.get(enrollment=enrollment)
    assert visit.outcome == VisitOutcome.UNENROLLED
    assert visit.left_at is not None
    event = enrollment.events.get(kind="unenrolled")
    assert (event.actor, event.step) == (olive, "plan")
    assert event.detail.startswith("Asked us to stop")


def test_unenrolling_cancels_queued_automated_messages_but_not_one_being_sent(welcome, ada, olive):
    enrollment = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)
    hello, question = OutboxEntry.objects.filter(message__enrollment=enrollment).order_by("id")
    OutboxEntry.objects.filter(pk=hello.pk).update(status=OutboxStatus.SENDING)

    enrollment_unenroll(enrollment_id=enrollment.pk, actor=olive)

    hello.refresh_from_db()
    question.refresh_from_db()
    assert hello.status == OutboxStatus.SENDING
    assert (question.status, question.last_error) == (OutboxStatus.CANCELLED, "unenrolled")
    event = enrollment.events.get(kind="unenrolled")
    assert event.detail == "Unenrolled by hand (1 queued message cancelled)"


def test_an_unenrolled_enrollment_does_not_move_on_when_its_due_time_comes(welcome, ada, olive):
    enrollment = at_plan(enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive))
    enrollment_unenroll(enrollment_id=enrollment.pk, actor=olive)

    enrollment_advance(enrollment_id=enrollment.pk, event={"kind": "due"})

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.step) == (EnrollmentStatus.DROPPED, "plan")


def test_unenrolling_twice_is_a_conflict(welcome, ada, olive):
    enrollment = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)
    enrollment_unenroll(enrollment_id=enrollment.pk, actor=olive)

    with pytest.raises(Conflict, match="no longer in Welcome"):
        enrollment_unenroll(enrollment_id=enrollment.pk, actor=olive)

    assert enrollment.events.filter(kind="unenrolled").count() == 1


def test_unenrolling_an_unknown_enrollment_is_invalid_input(org, olive):
    with pytest.raises(InvalidInput, match="no enrollment #999999"):
        enrollment_unenroll(enrollment_id=999999, actor=olive)


def test_a_contact_unenrolled_by_hand_may_be_enrolled_again(welcome, ada, olive):
    first = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)
    enrollment_unenroll(enrollment_id=first.pk, actor=olive)

    again = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)

    assert again.pk != first.pk
    assert again.status == EnrollmentStatus.ACTIVE


# --- moving to a new version ---------------------------------------------------------------


def test_moving_to_a_new_version_keeps_answers_and_due_time(welcome, ada, olive):
    enrollment = at_plan(enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive))
    v2 = publish(welcome, replace("plan", "ask", {**STEPS[2][2], "question": "Which tier?"}))

    result = enrollments_migrate(enrollment_ids=[enrollment.pk], version=v2, actor=olive)

    assert (result.moved, result.refused) == ([enrollment.pk], {})
    moved = Enrollment.objects.get(pk=enrollment.pk)
    assert moved.version == v2
    assert moved.state == enrollment.state
    assert moved.state["answers"] == {"visa": True}
    assert (moved.step, moved.due_at, moved.waiting_for) == ("plan", enrollment.due_at, "reply")
    event = moved.events.get(kind="migrated")
    assert (event.detail, event.actor, event.step) == ("v1 → v2", olive, "plan")


def test_a_moved_enrollment_carries_on_with_the_new_versions_steps(welcome, ada, olive):
    enrollment = at_plan(enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive))
    thanks = ("thanks", "send_message", {"channel": "email", "template": "Thanks!"})
    v2 = publish(welcome, [*STEPS[:3], thanks, STEPS[3]])
    enrollments_migrate(enrollment_ids=[enrollment.pk], version=v2, actor=olive)

    event = {"kind": "reply", "text": "Pro", "channel": "email", "message_id": 2}
    enrollment_advance(enrollment_id=enrollment.pk, event=event)

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert enrollment.state["answers"] == {"visa": True, "plan": "Pro"}
    bodies = OutboxEntry.objects.filter(message__enrollment=enrollment).values_list(
        "message__body", flat=True
    )
    assert any(body.startswith("Thanks!") for body in bodies)


def test_an_enrollment_at_a_step_the_new_version_lacks_stays_where_it_is(welcome, ada, olive):
    enrollment = at_plan(enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive))
    v2 = publish(welcome, [step for step in STEPS if step[0] != "plan"])

    result = enrollments_migrate(enrollment_ids=[enrollment.pk], version=v2, actor=olive)

    assert result.moved == []
    assert result.refused == {enrollment.pk: "step 'plan' is not in v2"}
    enrollment.refresh_from_db()
    assert enrollment.version.number == 1
    assert not enrollment.events.filter(kind="migrated").exists()


def test_an_enrollment_whose_step_changed_kind_stays_where_it_is(welcome, ada, olive):
    enrollment = at_plan(enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive))
    v2 = publish(welcome, replace("plan", "wait", {"minutes": 60}))

    result = enrollments_migrate(enrollment_ids=[enrollment.pk], version=v2, actor=olive)

    assert result.refused == {enrollment.pk: "step 'plan' changed kind (ask in v1, wait in v2)"}


def test_a_wait_that_now_listens_for_another_signal_waits_for_that_signal(welcome, ada, olive):
    waiting = replace("plan", "wait", {"minutes": 60, "until": "reply"})
    v2 = publish(welcome, waiting)
    enrollment = at_plan(enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive))
    assert (enrollment.version, enrollment.waiting_for) == (v2, "reply")
    v3 = publish(welcome, replace("plan", "wait", {"minutes": 60, "until": "demo_booked"}))

    enrollments_migrate(enrollment_ids=[enrollment.pk], version=v3, actor=olive)

    enrollment.refresh_from_db()
    assert enrollment.waiting_for == "demo_booked"


def test_moving_refuses_enrollments_already_there_ended_or_unknown(welcome, ada, olive, org):
    current = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)
    bob = contact_seen_by(org, "c-bob")
    ended = enrollment_enroll_by_hand(contact=bob, journey=welcome, actor=olive)
    enrollment_unenroll(enrollment_id=ended.pk, actor=olive)

    result = enrollments_migrate(
        enrollment_ids=[current.pk, ended.pk, 999999], version=current.version, actor=olive
    )

    assert result.moved == []
    assert result.refused == {
        current.pk: "it is already on v1",
        ended.pk: "it is dropped, not live",
        999999: "no such enrollment",
    }


def test_moving_to_a_version_of_another_journey_is_invalid_input(welcome, ada, olive, org):
    enrollment = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)
    other = publish(org.journey, [("done", "end", {"outcome": "completed"})])

    with pytest.raises(InvalidInput, match="another journey"):
        enrollments_migrate(enrollment_ids=[enrollment.pk], version=other, actor=olive)

    enrollment.refresh_from_db()
    assert enrollment.version.journey == welcome


# --- the contact's timeline ----------------------------------------------------------------


def test_the_timeline_shows_who_moved_and_who_unenrolled_the_contact(welcome, ada, olive):
    enrollment = at_plan(enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive))
    v2 = publish(welcome, replace("plan", "ask", {**STEPS[2][2], "question": "Which tier?"}))
    enrollments_migrate(enrollment_ids=[enrollment.pk], version=v2, actor=olive)
    enrollment_unenroll(enrollment_id=enrollment.pk, actor=olive, reason="Wrong journey")

    items = contact_timeline(contact=ada, principal=olive, offset=0, limit=50)

    journey_items = {i.data["event"]: i for i in items if i.kind == "journey"}
    assert journey_items["migrated"].summary == (
        "Welcome moved to a new version by Olive Ortiz: v1 → v2"
    )
    assert journey_items["unenrolled"].summary.startswith(
        "Welcome unenrolled by Olive Ortiz: Wrong journey"
    )
    enrolled = next(i for i in items if i.kind == "stage" and i.data["event"] == "enrolled")
    assert enrolled.summary == "Enrolled by hand in Welcome v1 at Screening by Olive Ortiz"

    client = Client()
    client.force_login(olive)
    response = client.get(f"/api/v1/contacts/{ada.pk}/timeline/")
    assert response.status_code == 200
    events = {row["event"]: row for row in response.json()["results"] if row["kind"] == "journey"}
    assert set(events) == {"migrated", "unenrolled"}


# --- Django admin --------------------------------------------------------------------------


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def grant(user: Any, *codenames: str) -> None:
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="journeys", codename__in=codenames)
    )


@pytest.fixture
def ops(olive: Any) -> Client:
    """Olive as ops are set up: staff, not superuser, with the enrollment permissions."""
    grant(
        olive,
        "view_enrollment",
        "add_enrollment",
        "change_enrollment",
        "view_contact",
        "view_journey",
    )
    return logged_in(olive)


def page(response: Any) -> str:
    return html.unescape(response.content.decode())


def run_action(client: Client, url: str, action: str, ids: list[int], **extra: Any) -> Any:
    data = {"action": action, "_selected_action": [str(i) for i in ids], **extra}
    return client.post(url, data, follow=True)


def test_the_enrollment_list_shows_version_step_and_due_time(ops, welcome, ada, olive):
    enrollment = at_plan(enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive))

    response = ops.get(ENROLLMENTS)

    assert response.status_code == 200
    text = page(response)
    for column in ("Version", "Step", "Due at", "Waiting for"):
        assert column in text
    assert "v1" in text and "plan" in text and "reply" in text
    assert enrollment.due_at is not None


def test_ops_enroll_a_contact_by_hand_from_the_add_form(ops, welcome, ada, olive):
    form = ops.get(f"{ENROLLMENTS}add/").context["adminform"].form
    assert list(form.fields) == ["contact", "journey"]

    response = ops.post(f"{ENROLLMENTS}add/", {"contact": ada.pk, "journey": welcome.pk})

    assert response.status_code == 302
    enrollment = Enrollment.objects.get(contact=ada, journey=welcome)
    assert (enrollment.version.number, enrollment.step) == (1, "visa")
    assert enrollment.events.get(kind="enrolled").actor == olive


def test_the_add_form_shows_a_refusal_as_a_form_error(ops, welcome, ada, olive):
    enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)

    response = ops.post(f"{ENROLLMENTS}add/", {"contact": ada.pk, "journey": welcome.pk})

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Ada Lovelace is already in Welcome."
    ]
    assert Enrollment.objects.filter(contact=ada).count() == 1


def test_the_add_form_offers_only_contacts_ops_may_see(ops, welcome, org, olive):
    membership_remove(user=olive, team=org.teams["marketing"])
    hidden = contact_seen_by(org, "c-hidden", team="marketing")

    response = ops.post(f"{ENROLLMENTS}add/", {"contact": hidden.pk, "journey": welcome.pk})

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["contact"]
    assert not Enrollment.objects.exists()


def test_an_enrollments_page_is_read_only(ops, welcome, ada, olive):
    enrollment = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)
    url = f"{ENROLLMENTS}{enrollment.pk}/change/"

    shown = ops.get(url)
    posted = ops.post(url, {"status": "completed"})

    assert shown.status_code == 200
    assert 'name="status"' not in shown.content.decode()
    assert posted.status_code == 403
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE


def test_ops_unenroll_after_a_confirmation_page(ops, welcome, ada, olive):
    enrollment = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)

    confirm = run_action(ops, ENROLLMENTS, "unenroll", [enrollment.pk], index="0")
    assert "Unenroll these contacts?" in page(confirm)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE

    done = run_action(
        ops, ENROLLMENTS, "unenroll", [enrollment.pk], confirm="Yes", reason="Duplicate lead"
    )

    assert "Unenrolled 1 enrollment(s); 0 refused." in page(done)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.DROPPED
    event = enrollment.events.get(kind="unenrolled")
    assert (event.actor, event.detail.startswith("Duplicate lead")) == (olive, True)


def test_unenrolling_an_ended_enrollment_in_admin_says_why_not(ops, welcome, ada, olive):
    enrollment = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)
    enrollment_unenroll(enrollment_id=enrollment.pk, actor=olive)

    done = run_action(ops, ENROLLMENTS, "unenroll", [enrollment.pk], confirm="Yes")

    text = page(done)
    assert "Unenrolled 0 enrollment(s); 1 refused." in text
    assert "Ada Lovelace is no longer in Welcome (it is dropped)." in text


def test_ops_move_enrollments_to_the_live_version_and_read_each_refusal(
    ops, welcome, ada, olive, org
):
    at_ask = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)
    bob = contact_seen_by(org, "c-bob")
    bobs = at_plan(enrollment_enroll_by_hand(contact=bob, journey=welcome, actor=olive))
    publish(welcome, [step for step in STEPS if step[0] != "plan"])

    response = run_action(ops, ENROLLMENTS, "move_to_live_version", [at_ask.pk, bobs.pk], index="0")

    text = page(response)
    assert "Moved 1 enrollment(s) to the live version; 1 refused." in text
    assert "Bob Babbage in Welcome: step 'plan' is not in v2" in text
    assert "Ada Lovelace in Welcome:" not in text
    assert Enrollment.objects.get(pk=at_ask.pk).version.number == 2
    assert Enrollment.objects.get(pk=bobs.pk).version.number == 1


def test_ops_move_a_journeys_live_enrollments_from_the_journey_list(ops, welcome, ada, olive, org):
    first = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)
    publish(welcome, replace("visa", "ask", {**STEPS[1][2], "question": "Visa?"}))
    current = enrollment_enroll_by_hand(
        contact=contact_seen_by(org, "c-bob"), journey=welcome, actor=olive
    )

    response = run_action(ops, JOURNEYS, "move_live_enrollments", [welcome.pk], index="0")

    assert "Moved 1 enrollment(s) to the live version; 0 refused." in page(response)
    assert Enrollment.objects.get(pk=first.pk).version.number == 2
    assert not current.events.filter(kind="migrated").exists()


def test_ops_enroll_selected_contacts_after_picking_a_journey(ops, welcome, ada, olive, org):
    bob = contact_seen_by(org, "c-bob")
    enrollment_enroll_by_hand(contact=bob, journey=welcome, actor=olive)

    picker = run_action(ops, CONTACTS, "enroll_in_journey", [ada.pk, bob.pk], index="0")
    assert "Enroll in a journey" in page(picker)
    assert "Welcome" in page(picker)

    done = run_action(
        ops, CONTACTS, "enroll_in_journey", [ada.pk, bob.pk], confirm="Enroll", journey=welcome.pk
    )

    text = page(done)
    assert "Enrolled 1 contact(s) in Welcome; 1 refused." in text
    assert "Bob Babbage is already in Welcome." in text
    assert Enrollment.objects.filter(journey=welcome).count() == 2
    assert Enrollment.objects.get(contact=ada).events.get(kind="enrolled").actor == olive


def test_the_journey_picker_asks_again_when_no_journey_is_picked(ops, welcome, ada):
    response = run_action(ops, CONTACTS, "enroll_in_journey", [ada.pk], confirm="Enroll")

    assert "This field is required." in page(response)
    assert not Enrollment.objects.exists()


def test_without_enrollment_permissions_the_actions_do_nothing(welcome, ada, olive, org):
    grant(olive, "view_enrollment", "view_contact", "view_journey")
    client = logged_in(olive)
    enrollment = enrollment_enroll_by_hand(contact=ada, journey=welcome, actor=olive)

    publish(welcome, replace("visa", "ask", {**STEPS[1][2], "question": "Visa?"}))

    offered = page(client.get(ENROLLMENTS)) + page(client.get(CONTACTS))
    offered += page(client.get(JOURNEYS))
    run_action(client, ENROLLMENTS, "unenroll", [enrollment.pk], confirm="Yes")
    run_action(client, ENROLLMENTS, "move_to_live_version", [enrollment.pk], index="0")
    run_action(client, CONTACTS, "enroll_in_journey", [ada.pk], confirm="E", journey=welcome.pk)
    run_action(client, JOURNEYS, "move_live_enrollments", [welcome.pk], index="0")
    add = client.get(f"{ENROLLMENTS}add/")

    for action in ("Unenroll selected", "live version", "Enroll in a journey"):
        assert action not in offered
    assert add.status_code == 403
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.version.number) == (EnrollmentStatus.ACTIVE, 1)
    assert Enrollment.objects.count() == 1


def test_ops_cannot_unenroll_a_contact_outside_their_teams(ops, welcome, org, olive):
    membership_remove(user=olive, team=org.teams["marketing"])
    hidden = contact_seen_by(org, "c-hidden", team="marketing")
    enrollment = enrollment_enroll_by_hand(contact=hidden, journey=welcome, actor=olive)

    run_action(ops, ENROLLMENTS, "unenroll", [enrollment.pk], confirm="Yes")

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
