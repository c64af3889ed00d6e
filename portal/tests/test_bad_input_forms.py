"""Bad input to the portal's own forms and htmx posts, the inbound integrations (Twilio, email,
the chat widget) and query strings: a clear 4xx, nothing stored. And the other side of it —
SendGrid mail in a declared non-UTF-8 charset is decoded from its raw bytes, not mangled."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from django.test import Client

from handoffs.models import Handoff, Message
from handoffs.services import handoff_claim
from journeys.models import Contact, Signal
from portal.choices import AvailabilityStatus
from portal.integrations.chat import chat_token
from portal.models import Availability

FIXTURES = Path(__file__).parent / "fixtures" / "integrations"
WEBHOOK_AUTH = "anymail:s3cret-basic-auth"
AUTH = {"authorization": "Basic " + base64.b64encode(WEBHOOK_AUTH.encode()).decode()}
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def claimed(org, send_signal) -> Handoff:
    send_signal(budget=90000)
    handoff = Handoff.objects.get()
    handoff_claim(handoff_id=handoff.pk, user=org.users["riley"])
    return handoff


@pytest.fixture
def riley(org) -> Client:
    client = Client()
    client.force_login(org.users["riley"])
    return client


def human_replies() -> int:
    return Message.objects.filter(direction="out", automated=False).count()


# --- the portal's forms and htmx posts ----------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_a_reply_form_that_is_not_utf8_is_a_400_and_nothing_is_sent(riley, claimed, htmx):
    headers = {"hx-request": "true"} if htmx else {}

    response = riley.generic(
        "POST",
        f"/handoffs/{claimed.pk}/reply/",
        b"body=caf%E9+ol%E9",  # Latin-1 escapes: Django would store "caf\ufffd"
        content_type=FORM,
        headers=headers,
    )

    assert response.status_code == 400
    assert "UTF-8" in response.content.decode()
    assert human_replies() == 0


def test_raw_bytes_that_are_not_utf8_in_a_form_are_a_400(riley, claimed):
    response = riley.generic(
        "POST", f"/handoffs/{claimed.pk}/reply/", b"body=caf\xe9", content_type=FORM
    )

    assert response.status_code == 400
    assert human_replies() == 0


def test_a_utf8_form_still_works(riley, claimed):
    response = riley.post(
        f"/handoffs/{claimed.pk}/reply/", {"body": "Ça coûte 40 €"}, headers={"hx-request": "true"}
    )

    assert response.status_code == 200
    assert Message.objects.get(direction="out", automated=False).body.startswith("Ça coûte 40 €")


def test_an_oversized_form_is_a_413_and_changes_nothing(org, riley, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048

    response = riley.post("/me/availability/status/", {"status": "available", "pad": "x" * 4096})

    assert response.status_code == 413
    assert not Availability.objects.filter(status=AvailabilityStatus.AVAILABLE).exists()


def test_a_nul_in_an_availability_form_is_a_400(org, riley):
    response = riley.post("/me/availability/status/", {"status": "available\x00"})

    assert response.status_code == 400
    assert not Availability.objects.filter(status=AvailabilityStatus.AVAILABLE).exists()


def test_a_login_form_that_is_not_utf8_is_a_400(org):
    response = Client().generic(
        "POST", "/accounts/login/", b"username=r%FFley&password=x", content_type=FORM
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    "url",
    ["/inbox/?trigger=%FF", "/api/v1/handoffs/?team=%C3%28", "/api/v1/contacts/?external_id=%E9"],
)
def test_a_query_string_that_is_not_utf8_is_a_400(org, as_user, url):
    response = as_user("riley").get(url)

    assert response.status_code == 400
    assert "UTF-8" in response.content.decode()


def test_a_utf8_query_string_still_works(org, as_user):
    response = as_user("riley").get("/api/v1/contacts/?external_id=caf%C3%A9")

    assert response.status_code == 200


# --- the inbound integrations ---------------------------------------------------------------------


def test_twilio_form_that_is_not_utf8_is_a_400_and_nothing_is_stored(org, settings):
    settings.TWILIO_AUTH_TOKEN = "twilio-token"

    response = Client().generic(
        "POST",
        "/api/v1/integrations/twilio/",
        b"MessageSid=SM1&From=%2B447700900123&Body=Stop+%FF",
        content_type=FORM,
        headers={"x-twilio-signature": "irrelevant"},
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "The form is not valid UTF-8."
    assert not Message.objects.exists()


def test_the_chat_widget_refuses_a_form_that_is_not_utf8(org, send_signal):
    send_signal(budget=None)
    token = chat_token(Contact.objects.get())

    response = Client().generic(
        "POST", f"/chat/{token}/send/", b"body=hi+%FF&client_id=abc", content_type=FORM
    )

    assert response.status_code == 400
    assert not Message.objects.filter(channel="chat").exists()


def test_postmark_json_nested_too_deeply_is_a_400_not_a_crash(org, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_AUTH}

    response = Client().generic(
        "POST",
        "/api/v1/integrations/email/postmark/",
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        content_type="application/json",
        headers=AUTH,
    )

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert not Message.objects.exists()


def multipart(fields: dict[str, bytes], boundary: str = "baton-boundary") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def test_sendgrid_mail_in_a_declared_latin1_charset_is_decoded_from_its_raw_bytes(org, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_AUTH}
    sample = json.loads((FIXTURES / "sendgrid_inbound.json").read_text())
    values = {
        "from": "Zoë Martin <zoe@example.fr>",
        "to": "inbound@inbound.example.com",
        "envelope_to": "inbound@inbound.example.com",
        "envelope_from": "zoe@example.fr",
        "message_id": "<latin1-0001@mail.example.fr>",
        "extra_headers": "",
    }
    fields: dict[str, bytes] = {}
    for name, value in sample.items():
        if name.startswith("_"):
            continue
        for key, text in values.items():
            value = value.replace("{" + key + "}", text)
        fields[name] = value.encode("utf-8")
    fields["text"] = "Ça coûte combien pour 40 personnes ?\n".encode("iso-8859-1")
    fields["html"] = "<p>Ça coûte combien pour 40 personnes ?</p>".encode("iso-8859-1")
    fields["charsets"] = json.dumps(
        {
            "to": "UTF-8",
            "from": "UTF-8",
            "subject": "UTF-8",
            "text": "iso-8859-1",
            "html": "iso-8859-1",
        }
    ).encode()

    response = Client().generic(
        "POST",
        "/api/v1/integrations/email/sendgrid/",
        multipart(fields),
        content_type="multipart/form-data; boundary=baton-boundary",
        headers=AUTH,
    )

    assert response.status_code == 200, response.content
    message = Message.objects.get(direction="in")
    assert message.body == "Ça coûte combien pour 40 personnes ?"
    assert "\ufffd" not in message.body


def test_nothing_was_stored_by_refused_signals_either(org, api_key):
    """The query-string check runs for integrations too, before any view."""
    response = Client().post(
        "/api/v1/signals/?x=%FF",
        {"type": "form_submitted", "contact": {"external_id": "c-1"}},
        content_type="application/json",
        headers={"authorization": f"Bearer {api_key}"},
    )

    assert response.status_code == 400
    assert not Signal.objects.exists()
    assert not Contact.objects.exists()


def test_the_error_shape_for_integrations_is_json(org):
    response = Client().generic(
        "POST", "/api/v1/integrations/twilio/", b"Body=%00", content_type=FORM
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "NUL characters are not allowed in parameters."}
