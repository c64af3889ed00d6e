"""POST /api/v1/messages/inbound/: a contact wrote to us."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from handoffs.models import Handoff, HandoffEvent, Message, OutboxEntry
from handoffs.services import handoff_claim, handoff_reply, handoff_resolve
from journeys.models import Contact, Enrollment
from portal.models import Event

URL = "/api/v1/messages/inbound/"


def inbound(**overrides: Any) -> dict[str, Any]:
    body = {
        "contact": {"external_id": "c-1001", "name": "Ada Lovelace", "phone": "+447700900123"},
        "channel": "sms",
        "body": "Tuesday at 3pm works for me",
        "external_id": "SM123",
    }
    body.update(overrides)
    return body


@pytest.fixture
def ada_handoff(org: Any, send_signal: Any) -> Handoff:
    assert send_signal(budget=50000, key="form-1").status_code == 202
    return Handoff.objects.get()


def test_an_inbound_message_is_accepted_and_stored_on_the_contacts_conversation(org, integration):
    response = integration.post(URL, inbound(), format="json")

    assert response.status_code == 202, response.content
    assert response.json() == {"id": str(Message.objects.get().pk), "duplicate": False}
    message = Message.objects.get()
    assert (message.direction, message.channel, message.body) == (
        "in",
        "sms",
        "Tuesday at 3pm works for me",
    )
    contact = Contact.objects.get(external_id="c-1001")
    assert message.conversation.contact == contact
    assert contact.last_inbound_channel == "sms"
    assert message.handoff is None


def test_the_same_external_id_is_a_duplicate_and_changes_nothing(org, integration):
    first = integration.post(URL, inbound(), format="json").json()
    again = integration.post(URL, inbound(), format="json")

    assert again.status_code == 202
    assert again.json() == {"id": first["id"], "duplicate": True}
    assert Message.objects.count() == 1


def test_the_same_external_id_with_another_body_is_a_409(org, integration):
    integration.post(URL, inbound(), format="json")
    response = integration.post(URL, inbound(body="something else"), format="json")

    assert response.status_code == 409
    assert "external_id" in response.json()["detail"]
    assert Message.objects.count() == 1


def test_messages_without_an_external_id_are_each_stored(org, integration):
    integration.post(URL, inbound(external_id=None), format="json")
    integration.post(URL, inbound(external_id=None), format="json")

    assert Message.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"body": ""}, "body"),
        ({"body": 42}, "body"),
        ({"contact": {}}, "contact.external_id"),
        ({"surprise": True}, "surprise"),
        ({"body": " " + "x" * 5000}, "body"),
    ],
    ids=[
        "an unknown channel",
        "an empty body",
        "a number body",
        "no contact id",
        "an unknown field",
        "a body over 5000 characters as sent, though not once trimmed",
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(org, integration, change, field):
    response = integration.post(URL, inbound(**change), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Message.objects.exists()


def test_people_cannot_post_inbound_messages(org, as_user):
    response = as_user("riley").post(URL, inbound(), format="json")

    assert response.status_code == 403
    assert not Message.objects.exists()


def test_a_reply_wakes_a_handoff_waiting_on_the_contact(org, integration, ada_handoff):
    riley = org.users["riley"]
    handoff_reply(handoff_id=ada_handoff.pk, user=riley, body="When suits you for a call?")
    assert Handoff.objects.get().status == "waiting_on_contact"
    seq_before = Event.objects.order_by("-id").values_list("id", flat=True).first()

    integration.post(URL, inbound(), format="json")

    handoff = Handoff.objects.get()
    assert (handoff.status, handoff.assignee) == ("claimed", riley)
    assert Message.objects.get(direction="in").handoff == handoff
    assert HandoffEvent.objects.filter(handoff=handoff, kind="contact_replied").count() == 1
    latest = Event.objects.filter(id__gt=seq_before).get()
    assert (latest.type, latest.payload["status"]) == ("handoff.updated", "claimed")


def test_the_next_human_reply_goes_out_on_the_channel_the_contact_used(
    org, integration, ada_handoff
):
    integration.post(URL, inbound(channel="whatsapp"), format="json")

    message = handoff_reply(handoff_id=ada_handoff.pk, user=org.users["riley"], body="Great!")

    assert message.channel == "whatsapp"
    assert OutboxEntry.objects.get(message=message).to_address == "+447700900123"


def test_a_reply_within_the_reopen_window_reopens_the_resolved_handoff(
    org, integration, ada_handoff
):
    riley = org.users["riley"]
    handoff_claim(handoff_id=ada_handoff.pk, user=riley)
    handoff_resolve(
        handoff_id=ada_handoff.pk, user=riley, resolution="Call booked", resume_automation=True
    )
    assert Enrollment.objects.get().status == "active"

    integration.post(URL, inbound(body="Actually, can we move it?"), format="json")

    handoff = Handoff.objects.get()
    assert (handoff.status, handoff.assignee, handoff.resolved_at) == ("claimed", riley, None)
    assert HandoffEvent.objects.filter(handoff=handoff, kind="reopened").count() == 1
    assert Enrollment.objects.get().status == "paused_for_human"


def test_a_reply_after_the_reopen_window_leaves_the_handoff_resolved(org, integration, ada_handoff):
    riley = org.users["riley"]
    handoff_resolve(
        handoff_id=ada_handoff.pk, user=riley, resolution="Done", resume_automation=False
    )
    Handoff.objects.update(resolved_at=timezone.now() - timedelta(days=4))

    integration.post(URL, inbound(), format="json")

    assert Handoff.objects.get().status == "resolved"
    assert Message.objects.get(direction="in").handoff is None


def test_an_inbound_message_is_on_the_contacts_timeline(org, integration, ada_handoff, as_user):
    integration.post(URL, inbound(), format="json")
    contact = Contact.objects.get(external_id="c-1001")

    items = as_user("riley").get(f"/api/v1/contacts/{contact.pk}/timeline/").json()["results"]

    message = next(i for i in items if i["kind"] == "message")
    assert (message["direction"], message["channel"], message["body"], message["automated"]) == (
        "in",
        "sms",
        "Tuesday at 3pm works for me",
        False,
    )
