"""SMS and WhatsApp in Twilio's webhook format, with real signatures computed by the twilio
library's RequestValidator: a valid one is stored and answered with TwiML; a tampered body, a
wrong token or a missing header is a 403 that stores nothing."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from handoffs.models import Handoff, Message
from journeys.models import Contact
from journeys.services import contact_upsert

TOKEN = "12345678901234567890123456789012"
PATH = "/api/v1/integrations/twilio/"
PUBLIC = "https://baton.example.com"


@pytest.fixture(autouse=True)
def twilio_settings(settings: Any) -> None:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.BATON_PUBLIC_URL = PUBLIC


def params(**overrides: str) -> dict[str, str]:
    """Twilio's documented "incoming message" parameters."""
    body = {
        "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "SmsSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "AccountSid": "AC00000000000000000000000000000000",
        "MessagingServiceSid": "MG00000000000000000000000000000000",
        "From": "+447700900123",
        "To": "+447700900999",
        "Body": "Tuesday at 3pm works for me",
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        "FromCountry": "GB",
        "ToCountry": "GB",
    }
    body.update(overrides)
    return body


def send(
    data: dict[str, str],
    *,
    token: str = TOKEN,
    signed: dict[str, str] | None = None,
    url: str = PUBLIC + PATH,
    header: bool = True,
) -> Any:
    """POST like Twilio: form-encoded, signed over the public URL and the (signed) params."""
    signature = RequestValidator(token).compute_signature(url, signed or data)
    extra = {"HTTP_X_TWILIO_SIGNATURE": signature} if header else {}
    return Client().post(PATH, data, **extra)


def test_a_signed_sms_is_stored_and_answered_with_empty_twiml(org: Any) -> None:
    response = send(params())

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)  # noqa: S314 (our own answer)
    assert root.tag == "Response" and list(root) == []
    message = Message.objects.select_related("conversation__contact").get(direction="in")
    assert (message.channel, message.body, message.external_id) == (
        "sms",
        "Tuesday at 3pm works for me",
        "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    )
    contact = message.conversation.contact
    assert (contact.external_id, contact.phone, contact.last_inbound_channel) == (
        "tel:+447700900123",
        "+447700900123",
        "sms",
    )


def test_a_known_number_threads_into_that_contacts_conversation(org: Any) -> None:
    ada = contact_upsert(external_id="c-1001", fields={"phone": "+44 7700 900123", "name": "Ada"})

    assert send(params()).status_code == 200

    assert Contact.objects.count() == 1
    assert Message.objects.get(direction="in").conversation.contact_id == ada.pk


def test_whatsapp_senders_go_on_the_whatsapp_channel_with_their_profile_name(org: Any) -> None:
    data = params(
        From="whatsapp:+447700900777",
        To="whatsapp:+447700900999",
        ProfileName="Grace",
        WaId="447700900777",
        MessageSid="SM2a0e8ae6ade43cb3c0ce4525424e404f",
    )
    assert send(data).status_code == 200

    message = Message.objects.select_related("conversation__contact").get(direction="in")
    assert message.channel == "whatsapp"
    assert (message.conversation.contact.phone, message.conversation.contact.name) == (
        "+447700900777",
        "Grace",
    )


def test_media_is_listed_under_the_text(org: Any) -> None:
    data = params(
        Body="",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/SM1/Media/ME1",
        MediaContentType0="image/jpeg",
    )
    assert send(data).status_code == 200

    assert Message.objects.get(direction="in").body == (
        "[image/jpeg] https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/SM1/Media/ME1"
    )


def test_a_redelivered_message_sid_is_stored_once(org: Any) -> None:
    assert send(params()).status_code == 200
    assert send(params()).status_code == 200

    assert Message.objects.filter(direction="in").count() == 1


def test_an_opt_out_sms_reaches_triage(org: Any) -> None:
    """The webhook is only a door: message_receive's triage marks the opt-out as it does for
    the JSON API."""
    assert send(params(Body="Stop texting me")).status_code == 200

    contact = Contact.objects.get()
    assert "sms" in contact.opted_out_channels


def _nothing_stored() -> None:
    assert Message.objects.count() == 0
    assert Contact.objects.count() == 0
    assert Handoff.objects.count() == 0


@pytest.mark.parametrize(
    "case",
    ["tampered-body", "wrong-token", "missing-header", "other-url", "unconfigured"],
)
def test_a_request_twilio_did_not_sign_is_403_and_stores_nothing(
    org: Any, settings: Any, case: str
) -> None:
    data = params()
    if case == "tampered-body":
        response = send({**data, "Body": "Send me a refund"}, signed=data)
    elif case == "wrong-token":
        response = send(data, token="0" * 32)
    elif case == "missing-header":
        response = send(data, header=False)
    elif case == "other-url":
        response = send(data, url="https://evil.example.com" + PATH)
    else:
        settings.TWILIO_AUTH_TOKEN = ""
        response = send(data)

    assert response.status_code == 403, response.content
    assert response.json()["detail"]
    _nothing_stored()


def test_without_a_public_url_the_received_url_is_validated(org: Any, settings: Any) -> None:
    settings.BATON_PUBLIC_URL = ""
    assert send(params(), url="http://testserver" + PATH).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"MessageSid": "", "SmsSid": ""}, "MessageSid"),
        ({"From": "not a number"}, "From"),
        ({"Body": ""}, "Body"),
        ({"Body": "x" * 5001}, "Body"),
    ],
    ids=["no-sid", "bad-from", "empty", "too-long"],
)
def test_signed_but_bad_input_is_a_400_naming_the_parameter(
    org: Any, overrides: dict[str, str], field: str
) -> None:
    response = send(params(**overrides))

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    _nothing_stored()


def test_the_same_sid_with_another_text_is_a_409(org: Any) -> None:
    assert send(params()).status_code == 200
    response = send(params(Body="Something else"))

    assert response.status_code == 409
    assert Message.objects.get(direction="in").body == "Tuesday at 3pm works for me"
