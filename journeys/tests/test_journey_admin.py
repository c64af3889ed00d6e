import json
from typing import Any

import pytest

from journeys.models import Journey, Stage, Step


def _form(journey: Journey, steps: list[dict[str, Any]]) -> dict[str, str]:
    stage = journey.stages.get()
    data = {
        "name": journey.name,
        "slug": journey.slug,
        "description": "",
        "enroll_on_signal_type": journey.enroll_on_signal_type,
        "is_active": "on",
        "stages-TOTAL_FORMS": "1",
        "stages-INITIAL_FORMS": "1",
        "stages-MIN_NUM_FORMS": "0",
        "stages-MAX_NUM_FORMS": "1000",
        "stages-0-id": str(stage.pk),
        "stages-0-journey": str(journey.pk),
        "stages-0-name": stage.name,
        "stages-0-loop_stage": stage.loop_stage,
        "stages-0-order": str(stage.order),
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    for i, step in enumerate(steps):
        data |= {
            f"steps-{i}-journey": str(journey.pk),
            f"steps-{i}-order": str(i),
            f"steps-{i}-key": step["key"],
            f"steps-{i}-kind": step["kind"],
            f"steps-{i}-mode": "automation",
            f"steps-{i}-stage": str(stage.pk),
            f"steps-{i}-config": json.dumps(step["config"]),
        }
    return data


@pytest.fixture
def admin_client(org: Any, client: Any) -> Any:
    olive = org.users["olive"]
    olive.is_superuser = True
    olive.save()
    client.force_login(olive)
    return client


@pytest.fixture
def draft(org: Any) -> Journey:
    journey = Journey.objects.create(name="Welcome", slug="welcome")
    Stage.objects.create(journey=journey, name="Onboarding", loop_stage="onboard")
    return journey


def test_saving_a_journey_that_cannot_run_keeps_it_unpublished_and_says_why(admin_client, draft):
    steps = [{"key": "hello", "kind": "send_message", "config": {"template": "Hi {contact.age}"}}]

    response = admin_client.post(
        f"/admin/journeys/journey/{draft.pk}/change/", _form(draft, steps), follow=True
    )

    page = response.content.decode()
    assert "NOT published" in page
    assert "contact.age" in page
    assert not draft.versions.exists()


def test_saving_a_journey_that_can_run_publishes_a_new_version(admin_client, draft):
    steps = [
        {
            "key": "hello",
            "kind": "send_message",
            "config": {"channel": "email", "template": "Hi {contact.first_name}"},
        },
        {"key": "done", "kind": "end", "config": {"outcome": "completed"}},
    ]

    response = admin_client.post(
        f"/admin/journeys/journey/{draft.pk}/change/", _form(draft, steps), follow=True
    )

    assert "Published as v1" in response.content.decode()
    assert [s.key for s in Step.objects.filter(journey=draft)] == ["hello", "done"]
    assert (
        draft.versions.get().definition["steps"][0]["config"]["template"]
        == "Hi {contact.first_name}"
    )


def test_saving_an_unchanged_journey_keeps_its_live_version(admin_client, draft):
    steps = [{"key": "done", "kind": "end", "config": {"outcome": "completed"}}]
    url = f"/admin/journeys/journey/{draft.pk}/change/"
    admin_client.post(url, _form(draft, steps), follow=True)
    unchanged = _form(draft, []) | {
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "1",
        "steps-0-id": str(Step.objects.get().pk),
        "steps-0-journey": str(draft.pk),
        "steps-0-order": "0",
        "steps-0-key": "done",
        "steps-0-kind": "end",
        "steps-0-mode": "automation",
        "steps-0-stage": str(draft.stages.get().pk),
        "steps-0-config": json.dumps({"outcome": "completed"}),
    }

    response = admin_client.post(url, unchanged, follow=True)

    assert "v1 stays live" in response.content.decode()
    assert draft.versions.count() == 1
