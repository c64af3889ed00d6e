"""Inbound email through anymail's Mailgun, SendGrid and Postmark webhooks, with the providers'
documented sample payloads (portal/tests/fixtures/integrations/): threading by In-Reply-To /
References and by Reply-To token into the right conversation, unknown senders becoming contacts,
quoted history stripped, auto-replies dropped, and refusals that store nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from conftest import Org
from handoffs.channels import message_id_for
from handoffs.choices import HandoffEventKind, HandoffStatus
from handoffs.models import Handoff, HandoffEvent, Message
from handoffs.services import handoff_reply
from journeys.models import Contact
from portal.integrations.reply_tokens import reply_address, reply_token

FIXTURES = Path(__file__).parent / "fixtures" / "integrations"
WEBHOOK_AUTH = "anymail:s3cret-basic-auth"
SIGNING_KEY = "key-mailgun-signing-0123456789"
MAILGUN = "/api/v1/integrations/email/mailgun/"
SENDGRID = "/api/v1/integrations/email/sendgrid/"
POSTMARK = "/api/v1/integrations/email/postmark/"
AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(WEBHOOK_AUTH.encode()).decode()}


@pytest.fixture(autouse=True)
def anymail_settings(settings: Any) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_AUTH, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, text in values.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items() if not k.startswith("_")}
    return value


def mailgun_post(*, key: str = SIGNING_KEY, auth: bool = True, **values: str) -> Any:
    defaults = {
        "recipient": "inbound@in.example.com",
        "to": "Alice <inbound@in.example.com>",
        "message_id": "<517ACC75.5010709@mailgun.net>",
        "in_reply_to": "<517AC78B.5060404@mailgun.net>",
        "references": "<517AC78B.5060404@mailgun.net>",
        "timestamp": str(int(time.time())),
        "token": "c8f5a2f6b4e1d9a7c3b5e2f1a0d9c8b7a6f5e4d3c2b1a09f8e",
    }
    values = {**defaults, **values}
    digest = hmac.new(
        key.encode(), (values["timestamp"] + values["token"]).encode(), hashlib.sha256
    ).hexdigest()
    payload = fill(json.loads((FIXTURES / "mailgun_inbound.json").read_text()), values)
    payload["signature"] = digest
    payload["message-headers"] = json.dumps(payload["message-headers"])
    return Client().post(MAILGUN, payload, **(AUTH if auth else {}))


def sendgrid_post(*, auth: bool = True, **values: str) -> Any:
    defaults = {
        "from": "Example User <test@example.com>",
        "to": "inbound@inbound.example.com",
        "envelope_to": "inbound@inbound.example.com",
        "envelope_from": "test@example.com",
        "message_id": "<CAAsendgrid0001@mail.example.com>",
        "extra_headers": "",
    }
    payload = fill(json.loads((FIXTURES / "sendgrid_inbound.json").read_text()), defaults | values)
    return Client().post(SENDGRID, payload, **(AUTH if auth else {}))


def inbound_messages() -> Any:
    return Message.objects.filter(direction="in").select_related("conversation__contact")


def nothing_stored() -> None:
    assert Message.objects.filter(direction="in").count() == 0
    assert Contact.objects.count() == 0


def reply_by_email(org: Org, capture: Any) -> Message:
    """Riley answers Ada's handoff; the outbox delivers the email (locmem) after commit."""
    with capture(execute=True):
        sent = handoff_reply(
            handoff_id=Handoff.objects.get().pk, user=org.users["riley"], body="Shall we talk?"
        )
    assert len(mail.outbox) == 1
    return sent


@pytest.fixture
def ada_emailed(org: Org, send_signal: Any, django_capture_on_commit_callbacks: Any) -> Message:
    """Ada's high-value handoff, answered by Riley by email: the contact now waits on Ada."""
    assert send_signal(budget=50000, key="form-1").status_code == 202
    return reply_by_email(org, django_capture_on_commit_callbacks)


# ---- Mailgun --------------------------------------------------------------------------------


def test_a_mailgun_reply_threads_by_in_reply_to_into_the_right_conversation(
    ada_emailed: Message,
) -> None:
    ours = message_id_for(ada_emailed)
    assert mail.outbox[-1].extra_headers["Message-ID"] == ours
    response = mailgun_post(in_reply_to=ours, references=f"<older@elsewhere.example> {ours}")

    assert response.status_code == 200, response.content
    reply = inbound_messages().get()
    # Bob's address is unknown to Baton, but the thread headers name our email to Ada.
    assert reply.conversation_id == ada_emailed.conversation_id
    assert reply.conversation.contact.external_id == "c-1001"
    assert Contact.objects.count() == 1
    assert (reply.channel, reply.subject, reply.external_id) == (
        "email",
        "Re: Sample POST request",
        "<517ACC75.5010709@mailgun.net>",
    )
    # Quoted history is gone; what Bob wrote is kept.
    assert reply.body.startswith("Hi Alice,\n\nThis is Bob.\n\nI also attached a file.")
    assert "Alice wrote" not in reply.body
    assert "How are you doing" not in reply.body
    handoff = Handoff.objects.get()
    assert handoff.status == HandoffStatus.CLAIMED  # was waiting on the contact
    assert HandoffEvent.objects.filter(handoff=handoff, kind=HandoffEventKind.CONTACT_REPLIED)


def test_references_alone_thread_the_reply(ada_emailed: Message) -> None:
    ours = message_id_for(ada_emailed)
    response = mailgun_post(in_reply_to="", references=f"{ours} <unrelated@example.com>")

    assert response.status_code == 200
    assert inbound_messages().get().conversation_id == ada_emailed.conversation_id


def test_a_made_up_message_id_naming_our_message_does_not_thread(ada_emailed: Message) -> None:
    """The pk is in our Message-ID, but so is its time stamp: a guessed id matches nothing."""
    forged = f"<20200101000000.000000.{ada_emailed.pk}.baton@localhost>"
    assert mailgun_post(in_reply_to=forged, references=forged).status_code == 200

    reply = inbound_messages().get()
    assert reply.conversation_id != ada_emailed.conversation_id
    assert reply.conversation.contact.external_id == (
        "email:bob@sandbox085a3b878a964897b9b9efb2395a1f5a.mailgun.org"
    )


def test_a_redelivered_email_is_stored_once(org: Org) -> None:
    assert mailgun_post().status_code == 200
    again = mailgun_post(token="another-token-for-the-retry-0123456789abcdef012345")

    assert again.status_code == 200
    assert again.json()["duplicates"] == 1
    assert inbound_messages().count() == 1


@pytest.mark.parametrize("case", ["wrong-signing-key", "no-basic-auth", "unconfigured"])
def test_an_unauthenticated_mailgun_post_is_refused_and_stores_nothing(
    org: Org, settings: Any, case: str
) -> None:
    if case == "wrong-signing-key":
        response = mailgun_post(key="key-somebody-else")
    elif case == "no-basic-auth":
        response = mailgun_post(auth=False)
    else:
        settings.ANYMAIL = {}
        response = mailgun_post()

    assert response.status_code == 403, response.content
    assert response.json()["detail"]
    nothing_stored()


def test_an_email_without_a_sender_is_refused_with_406_so_mailgun_stops_retrying(
    org: Org,
) -> None:
    payload_path = FIXTURES / "mailgun_inbound.json"
    raw = json.loads(payload_path.read_text())
    raw["message-headers"] = [h for h in raw["message-headers"] if h[0] != "From"]
    timestamp, token = str(int(time.time())), "t" * 50
    values = {"recipient": "in@in.example.com", "to": "in@in.example.com", "message_id": "<x@y>"}
    values |= {"in_reply_to": "", "references": "", "timestamp": timestamp, "token": token}
    payload = fill(raw, values)
    payload["signature"] = hmac.new(
        SIGNING_KEY.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    payload["message-headers"] = json.dumps(payload["message-headers"])
    response = Client().post(MAILGUN, payload, **AUTH)

    assert response.status_code == 406, response.content
    assert "from" in response.json()["errors"]
    nothing_stored()


# ---- SendGrid -------------------------------------------------------------------------------


def test_an_unknown_sendgrid_sender_becomes_a_contact(org: Org) -> None:
    response = sendgrid_post()

    assert response.status_code == 200, response.content
    reply = inbound_messages().get()
    contact = reply.conversation.contact
    assert (contact.external_id, contact.email, contact.name) == (
        "email:test@example.com",
        "test@example.com",
        "Example User",
    )
    assert contact.last_inbound_channel == "email"
    assert reply.body == "Hello Twilio SendGrid!\n\nDo you have a plan for teams of 40?"
    assert reply.subject == "Inbound Parse Test Data"


def test_a_known_sender_lands_on_their_contact_whatever_the_case(ada_emailed: Message) -> None:
    response = sendgrid_post(**{"from": "Ada <C-1001@Example.com>", "envelope_from": "x@y.z"})

    assert response.status_code == 200
    assert inbound_messages().get().conversation_id == ada_emailed.conversation_id
    assert Contact.objects.count() == 1


def test_a_reply_to_token_threads_when_the_headers_are_gone(
    org: Org, settings: Any, send_signal: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.BATON_EMAIL_REPLY_ADDRESS = "reply+{token}@in.example.com"
    assert send_signal(budget=50000, key="form-1").status_code == 202
    sent = reply_by_email(org, django_capture_on_commit_callbacks)
    address = reply_address(sent.conversation_id)
    assert mail.outbox[-1].reply_to == [address]
    assert address == f"reply+{reply_token(sent.conversation_id)}@in.example.com"

    # A colleague answers from another address; their client kept no thread headers.
    response = sendgrid_post(
        **{"from": "Bo <bo@example.org>", "to": address.upper(), "envelope_to": address}
    )

    assert response.status_code == 200
    assert inbound_messages().get().conversation_id == sent.conversation_id


def test_a_forged_reply_to_token_is_not_trusted(org: Org, settings: Any, send_signal: Any) -> None:
    settings.BATON_EMAIL_REPLY_ADDRESS = "reply+{token}@in.example.com"
    assert send_signal(budget=50000, key="form-1").status_code == 202
    ada = Contact.objects.get()
    forged = f"reply+{ada.pk}-0000000000000000@in.example.com"
    response = sendgrid_post(**{"to": forged, "envelope_to": forged})

    assert response.status_code == 200
    assert inbound_messages().get().conversation.contact.external_id == "email:test@example.com"


def test_an_out_of_office_reply_is_acknowledged_and_dropped(ada_emailed: Message) -> None:
    response = sendgrid_post(
        **{"from": "Ada <c-1001@example.com>", "extra_headers": "Auto-Submitted: auto-replied\n"}
    )

    assert response.status_code == 200
    assert response.json() == {"ids": [], "duplicates": 0, "ignored": 1}
    assert inbound_messages().count() == 0
    assert Handoff.objects.get().status == HandoffStatus.WAITING_ON_CONTACT


def test_sendgrid_without_basic_auth_is_refused(org: Org) -> None:
    response = sendgrid_post(auth=False)

    assert response.status_code == 403
    nothing_stored()


def test_a_payload_that_is_not_sendgrids_is_a_400(org: Org) -> None:
    response = Client().post(SENDGRID, {"subject": "hello"}, **AUTH)

    assert response.status_code == 400
    nothing_stored()


# ---- Postmark -------------------------------------------------------------------------------


def test_postmarks_documented_sample_is_stored(org: Org) -> None:
    body = (FIXTURES / "postmark_inbound.json").read_text()
    response = Client().post(POSTMARK, body, content_type="application/json", **AUTH)

    assert response.status_code == 200, response.content
    reply = inbound_messages().get()
    assert reply.conversation.contact.external_id == "email:support@postmarkapp.com"
    assert reply.body == "This is a test text body."
    assert reply.external_id == "<CAAaBbCc0Dd1eEfF2gGhH3iIjJ4kK5lLmM6nNoO7pP8@mail.gmail.com>"
