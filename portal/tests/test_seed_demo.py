from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from handoffs.models import Handoff, Message
from journeys.models import Contact, Enrollment, HandoffRule, Signal
from portal.models import ApiKey, Membership


def _seed() -> list[str]:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue().strip().splitlines()


def _counts() -> dict[str, int]:
    models = [Contact, Signal, Handoff, Message, Enrollment, HandoffRule, Membership]
    return {m.__name__: m.objects.count() for m in [*models, get_user_model()]}


def test_the_demo_has_its_people_rules_and_sample_history(db):
    lines = _seed()

    assert lines[-1].startswith("bk_")
    assert any(line.split()[0] == "riley" for line in lines if line.strip())
    roles = dict(
        Membership.objects.filter(team__slug="sales").values_list("user__username", "role")
    )
    assert roles["riley"] == "rep"
    assert roles["sam"] == "director"
    grace = Handoff.objects.get(contact__external_id="c-demo-grace")
    assert (grace.trigger, grace.priority, grace.offered_to_role) == (
        "high_value",
        "urgent",
        "director",
    )
    assert not Handoff.objects.filter(contact__external_id="c-demo-alan").exists()
    margaret = Handoff.objects.get(contact__external_id="c-demo-margaret")
    assert margaret.status == "claimed"  # Casey replied and Margaret answered
    assert margaret.messages.filter(direction="in").count() == 1


def test_running_it_again_changes_nothing_but_prints_a_fresh_key(db):
    first_key = _seed()[-1]
    before = _counts()

    second_key = _seed()[-1]

    assert _counts() == before
    assert second_key != first_key
    assert ApiKey.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_seeded_recruitment_flow_screens_an_applicant_over_the_api():
    from conftest import key_client

    client = key_client(_seed()[-1])
    applicant = {"external_id": "app-1", "name": "Jo Bloggs", "phone": "+447700900777"}
    client.post(
        "/api/v1/signals/",
        {"type": "application_submitted", "contact": applicant},
        format="json",
    )
    for n, text in enumerate(["Yes I do", "about 3 years", "one month"]):
        body = {
            "contact": {"external_id": "app-1"},
            "channel": "sms",
            "body": text,
            "external_id": f"app-1-{n}",
        }
        assert client.post("/api/v1/messages/inbound/", body, format="json").status_code == 202

    handoff = Handoff.objects.get(contact__external_id="app-1")
    assert (handoff.trigger, handoff.team.slug) == ("qualification", "sales")
    assert "3 years' experience" in handoff.reason
    outbound = Message.objects.filter(conversation__contact__external_id="app-1", direction="out")
    journey = outbound.filter(enrollment__isnull=False)
    assert journey.count() == 4  # three questions and the booking link
    assert "book/interview" in journey.order_by("-id").first().body
    # Outside Sales' business hours the handoff also sends the after-hours reply, once.
    assert outbound.filter(enrollment__isnull=True).count() == (
        1 if handoff.after_hours_replied_at else 0
    )


@pytest.mark.django_db(transaction=True)
def test_the_seeded_nurture_nudges_a_silent_lead_after_three_days():
    from datetime import timedelta

    from django.utils import timezone

    from journeys.engine import enrollments_due_sweep

    _seed()
    alan = Enrollment.objects.get(contact__external_id="c-demo-alan")
    assert alan.due_at > timezone.now() + timedelta(days=2, hours=23)
    Enrollment.objects.filter(pk=alan.pk).update(due_at=timezone.now() - timedelta(seconds=1))

    enrollments_due_sweep()

    bodies = Message.objects.filter(conversation__contact__external_id="c-demo-alan")
    assert "just checking in" in bodies.order_by("-id").first().body


def _signal(client: Any, type_: str, external_id: str, **properties: Any) -> None:
    body = {
        "type": type_,
        "contact": {"external_id": external_id, "name": "Pat Doe", "email": f"{external_id}@x.io"},
        "properties": properties,
    }
    assert client.post("/api/v1/signals/", body, format="json").status_code == 202


def _reply(client: Any, external_id: str, text: str) -> None:
    body = {
        "contact": {"external_id": external_id},
        "channel": "email",
        "body": text,
        "external_id": f"{external_id}-{text[:10]}",
    }
    assert client.post("/api/v1/messages/inbound/", body, format="json").status_code == 202


def _overdue(external_id: str) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from journeys.engine import enrollments_due_sweep

    Enrollment.objects.filter(contact__external_id=external_id, status="active").update(
        due_at=timezone.now() - timedelta(seconds=1)
    )
    enrollments_due_sweep()


@pytest.mark.django_db(transaction=True)
def test_the_seeded_trial_onboarding_moves_an_activated_trial_into_adoption():
    from conftest import key_client

    client = key_client(_seed()[-1])
    _signal(client, "trial_started", "trial-1")
    trial = Enrollment.objects.get(contact__external_id="trial-1")
    assert (trial.stage.name, trial.step) == ("Kick-off", "wait_activation")

    _signal(client, "activated", "trial-1")

    trial.refresh_from_db()
    assert (trial.stage.name, trial.step) == ("Adoption", "settle")
    subjects = Message.objects.filter(conversation__contact__external_id="trial-1")
    assert list(subjects.values_list("subject", flat=True)) == [
        "Welcome to your trial, Pat",
        "Three things teams like yours do in week one",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_seeded_trial_onboarding_calls_a_trial_that_stalls_for_three_days():
    from conftest import key_client

    client = key_client(_seed()[-1])
    _signal(client, "trial_started", "trial-2")

    _overdue("trial-2")

    handoff = Handoff.objects.get(contact__external_id="trial-2")
    assert (handoff.team.slug, handoff.trigger) == ("success", "stage")
    assert handoff.reason.startswith("Trial not activated after 3 days")
    assert Enrollment.objects.get(contact__external_id="trial-2").status == "paused_for_human"


@pytest.mark.django_db(transaction=True)
def test_the_seeded_expansion_hands_interest_to_sales_and_drops_silence():
    from conftest import key_client

    client = key_client(_seed()[-1])
    _signal(client, "usage_spike", "grow-1", seats_used=19, seats=20)
    _signal(client, "usage_spike", "grow-2", seats_used=9, seats=10)
    assert (
        "using 19 of 20 seats"
        in Message.objects.get(conversation__contact__external_id="grow-1").body
    )

    _reply(client, "grow-1", "Yes please, five more seats")
    _overdue("grow-2")

    handoff = Handoff.objects.get(contact__external_id="grow-1")
    assert (handoff.team.slug, handoff.priority) == ("sales", "high")
    assert Enrollment.objects.get(contact__external_id="grow-2").status == "dropped"


@pytest.mark.django_db(transaction=True)
def test_the_seeded_renewal_reviews_with_a_person_then_waits_for_the_renewal():
    from conftest import key_client
    from handoffs.services import handoff_claim, handoff_resolve

    client = key_client(_seed()[-1])
    _signal(client, "renewal_due", "renew-1", days_to_renewal=80, arr=30000)
    handoff = Handoff.objects.get(contact__external_id="renew-1")
    assert handoff.team.slug == "success"
    casey = get_user_model().objects.get(username="casey")
    handoff_claim(handoff_id=handoff.pk, user=casey)

    handoff_resolve(
        handoff_id=handoff.pk, user=casey, resolution="Reviewed", resume_automation=True
    )
    renewal = Enrollment.objects.get(contact__external_id="renew-1")
    assert (renewal.status, renewal.step) == ("active", "wait_renewal")
    _signal(client, "renewed", "renew-1")

    renewal.refresh_from_db()
    assert renewal.status == "completed"


# ---- triage (docs/triage.md) -------------------------------------------------------------


def test_the_demo_has_a_faq_and_shows_each_triage_outcome(db):
    from handoffs.models import FaqEntry

    _seed()

    questions = set(FaqEntry.objects.filter(status="approved").values_list("question", flat=True))
    for topic in ["opening hours", "reset my password", "free trial", "prices", "based"]:
        assert any(topic in q for q in questions), topic
    ada = Handoff.objects.get(contact__external_id="c-demo-ada")
    assert (ada.trigger, ada.priority) == ("sentiment", "high")
    assert ada.reason.startswith("Angry reply (VADER")
    mary = Handoff.objects.get(contact__external_id="c-demo-mary")
    assert mary.trigger == "complexity"
    assert (
        mary.messages.filter(direction="out", automated=True)
        .get()
        .body.startswith("Great question")
    )
    answer = Message.objects.get(
        conversation__contact__external_id="c-demo-rosalind", direction="out"
    )
    assert answer.body.startswith("Our team is available")
    assert not Handoff.objects.filter(contact__external_id="c-demo-rosalind").exists()


def test_running_it_again_adds_no_faq_entries_or_triage_samples(db):
    from handoffs.models import FaqEntry

    _seed()
    before = (FaqEntry.objects.count(), Message.objects.count(), Handoff.objects.count())

    _seed()

    assert (FaqEntry.objects.count(), Message.objects.count(), Handoff.objects.count()) == before
