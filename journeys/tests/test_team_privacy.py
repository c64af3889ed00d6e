"""A contact two teams work with: each team sees its own handoffs, their messages and the
signals that raised them, and never the other team's."""

from typing import Any

import pytest

from handoffs.models import Handoff
from handoffs.services import InboundMessage, handoff_reply, message_receive
from journeys.models import Contact, HandoffRule

SECRET = "confidential note for the success team"


@pytest.fixture
def shared(org: Any, send_signal: Any, integration: Any) -> dict[str, Any]:
    HandoffRule.objects.create(
        name="Support risk",
        signal_type="support_risk",
        condition={"all": []},
        trigger="stage",
        team=org.teams["success"],
        priority="high",
        reason_template="Support risk: {properties.reason}",
    )
    assert send_signal(budget=90000, key="form-1").status_code == 202
    risk = {
        "type": "support_risk",
        "contact": {"external_id": "c-1001"},
        "properties": {"reason": "three P1 tickets"},
    }
    assert integration.post("/api/v1/signals/", risk, format="json").status_code == 202
    success = Handoff.objects.get(team__slug="success")
    handoff_reply(handoff_id=success.pk, user=org.users["casey"], body=SECRET)
    message_receive(
        message=InboundMessage(
            contact={"external_id": "c-1001"},
            account=None,
            channel="email",
            body="reply about the tickets",
            external_id="m-1",
        )
    )
    return {
        "contact": Contact.objects.get(external_id="c-1001"),
        "sales": Handoff.objects.get(team__slug="sales"),
        "success": success,
    }


def test_the_api_timeline_shows_a_rep_only_their_teams_part(org, as_user, shared):
    url = f"/api/v1/contacts/{shared['contact'].pk}/timeline/?page_size=200"

    riley = str(as_user("riley").get(url).json())
    casey = str(as_user("casey").get(url).json())

    assert "Budget 90,000" in riley and "Budget 90,000" not in casey
    for hidden in (SECRET, "three P1 tickets", "reply about the tickets", "Support risk"):
        assert hidden not in riley
    assert SECRET in casey and "three P1 tickets" in casey


def test_the_handoff_page_hides_another_teams_conversation(org, client, shared):
    client.force_login(org.users["riley"])

    page = client.get(f"/handoffs/{shared['sales'].pk}/").content.decode()

    assert SECRET not in page
    assert "reply about the tickets" not in page


def test_the_contact_page_hides_another_teams_history(org, client, shared):
    client.force_login(org.users["riley"])

    page = client.get(f"/contacts/{shared['contact'].pk}/").content.decode()

    assert "Budget 90,000" in page
    assert SECRET not in page
    assert "three P1 tickets" not in page


@pytest.mark.django_db
def test_a_contact_in_a_journey_is_seen_by_the_teams_that_own_its_steps(org, client):
    from journeys.choices import LoopStage
    from journeys.models import Enrollment, Journey, Stage, Step

    journey = Journey.objects.create(name="Onboarding", slug="onboarding")
    stage = Stage.objects.create(journey=journey, name="Kick-off", loop_stage=LoopStage.ONBOARD)
    Step.objects.create(
        journey=journey, stage=stage, key="call", kind="handoff", team=org.teams["success"]
    )
    contact = Contact.objects.create(external_id="quiet-1", name="Quinn")
    Enrollment.objects.create(
        contact=contact, journey=journey, stage=stage, stage_entered_at=contact.created_at
    )

    client.force_login(org.users["casey"])  # Success
    assert client.get(f"/contacts/{contact.pk}/").status_code == 200
    client.force_login(org.users["riley"])  # Sales: no step of theirs, no handoff
    assert client.get(f"/contacts/{contact.pk}/").status_code == 404
