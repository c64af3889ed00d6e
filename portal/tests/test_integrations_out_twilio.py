"""SMS and WhatsApp out through the twilio SDK, against a real local HTTP server playing Twilio's
REST API (TWILIO_API_BASE_URL): the form fields Twilio documents, the account's basic auth, the
message SID stored as the provider id, and Twilio's error codes mapped to a retry or a
permanent failure with the reason."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.db import transaction

from handoffs.channels import DeliveryError, TwilioBackend
from handoffs.choices import Channel, Direction, OutboxStatus
from handoffs.models import Message, OutboxEntry
from handoffs.outbox import outbox_enqueue
from handoffs.services import conversation_for
from journeys.models import Contact
from portal.tests import test_integrations_out_fakes as fakes
from portal.tests.test_integrations_out_fakes import Answer, FakeServer

pytestmark = pytest.mark.django_db(transaction=True)
fake_server = fakes.fake_server

SID = "AC" + "0" * 32
TOKEN = "twilio-auth-token-0123456789abcdef"
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


def created(sid: str = "SM" + "a" * 32, **extra: Any) -> Answer:
    """Twilio's 201 for a created message (trimmed to the fields that matter here)."""
    body = {"sid": sid, "account_sid": SID, "status": "queued", "num_segments": "1", **extra}
    return Answer(201, json.dumps(body), {"Content-Type": "application/json"})


def refused(status: int, code: int, message: str) -> Answer:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Answer(status, json.dumps(body), {"Content-Type": "application/json"})


@pytest.fixture
def twilio(settings: Any, fake_server: FakeServer) -> FakeServer:
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_SMS_FROM = "+447700900999"
    settings.TWILIO_WHATSAPP_FROM = "+14155238886"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_BASE_URL = fake_server.url
    settings.BATON_CHANNEL_BACKENDS = {
        **settings.BATON_CHANNEL_BACKENDS,
        "sms": "handoffs.channels.TwilioBackend",
        "whatsapp": "handoffs.channels.TwilioBackend",
    }
    fake_server.default = created()
    return fake_server


def queue(channel: str, to: str, body: str = "Hi Ada, this is Riley.") -> OutboxEntry:
    """A person's reply through the outbox, delivered (eagerly) after the commit."""
    contact, _ = Contact.objects.get_or_create(external_id="c-1001", defaults={"name": "Ada"})
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation_for(contact),
            direction=Direction.OUT,
            channel=channel,
            body=body,
        )
        entry = outbox_enqueue(message=message, to_address=to)
    entry.refresh_from_db()
    return entry


def test_an_sms_goes_to_twilios_messages_api_and_keeps_the_sid(twilio: FakeServer) -> None:
    entry = queue(Channel.SMS, "+44 7700 900123")

    [request] = twilio.requests
    assert request.path == MESSAGES
    assert request.form() == {
        "To": ["+447700900123"],
        "From": ["+447700900999"],
        "Body": ["Hi Ada, this is Riley."],
    }
    expected = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.header("authorization") == f"Basic {expected}"
    assert (entry.status, entry.backend, entry.provider_message_id) == (
        OutboxStatus.SENT,
        "twilio",
        "SM" + "a" * 32,
    )


def test_whatsapp_carries_the_prefix_on_both_numbers(twilio: FakeServer) -> None:
    entry = queue(Channel.WHATSAPP, "whatsapp:+447700900123")
    [request] = twilio.requests
    assert request.form()["To"] == ["whatsapp:+447700900123"]
    assert request.form()["From"] == ["whatsapp:+14155238886"]
    assert entry.status == OutboxStatus.SENT


def test_without_a_from_number_the_messaging_service_sends(
    twilio: FakeServer, settings: Any
) -> None:
    settings.TWILIO_SMS_FROM = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    queue(Channel.SMS, "+447700900123")
    form = twilio.requests[0].form()
    assert form["MessagingServiceSid"] == ["MG" + "1" * 32]
    assert "From" not in form


def test_an_invalid_number_is_a_permanent_failure_with_twilios_reason(
    twilio: FakeServer,
) -> None:
    twilio.default = refused(400, 21211, "The 'To' number +4470 is not a valid phone number.")
    entry = queue(Channel.SMS, "+447700900123")
    with pytest.raises(DeliveryError) as caught:
        TwilioBackend().send(entry)
    assert caught.value.permanent is True
    assert str(caught.value) == (
        "Twilio 400 error 21211: The 'To' number +4470 is not a valid phone number."
    )


def test_an_unsubscribed_recipient_is_permanent_too(twilio: FakeServer) -> None:
    twilio.default = refused(400, 21610, "Attempt to send to unsubscribed recipient")
    entry = queue(Channel.SMS, "+447700900123")
    with pytest.raises(DeliveryError) as caught:
        TwilioBackend().send(entry)
    assert caught.value.permanent is True


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (refused(429, 20429, "Too Many Requests"), "Twilio 429 error 20429: Too Many Requests"),
        (refused(401, 20003, "Authenticate"), "Twilio 401 error 20003: Authenticate"),
        (Answer(503, "Service Unavailable"), "Twilio 503 error"),
    ],
)
def test_rate_limits_outages_and_credentials_are_retried_by_the_outbox(
    twilio: FakeServer, answer: Answer, reason: str
) -> None:
    twilio.default = answer
    entry = queue(Channel.SMS, "+447700900123")
    assert entry.status == OutboxStatus.QUEUED  # back in the queue, after a back-off
    assert entry.attempts == 1
    assert entry.last_error.startswith(reason)
    with pytest.raises(DeliveryError) as caught:
        TwilioBackend().send(entry)
    assert caught.value.permanent is False


def test_an_unreachable_twilio_is_retried(twilio: FakeServer) -> None:
    twilio.stop()
    entry = queue(Channel.SMS, "+447700900123")
    assert entry.status == OutboxStatus.QUEUED
    assert entry.last_error.startswith("Twilio unreachable")


@pytest.mark.parametrize("address", ["", "not a number", "+12", "ada@example.com"])
def test_an_address_that_is_no_phone_number_never_reaches_twilio(
    twilio: FakeServer, address: str
) -> None:
    entry = queue(Channel.SMS, address)
    assert twilio.requests == []
    with pytest.raises(DeliveryError) as caught:
        TwilioBackend().send(entry)
    assert caught.value.permanent is True


def test_without_credentials_it_says_what_to_set(twilio: FakeServer, settings: Any) -> None:
    settings.TWILIO_ACCOUNT_SID = ""
    entry = queue(Channel.SMS, "+447700900123")
    assert entry.last_error == (
        "Twilio is not set up: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
    )
    assert twilio.requests == []
