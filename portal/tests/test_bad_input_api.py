"""Every write endpoint of the API that takes a body (API.md, docs/api.md), fed every kind of bad
body: a clear 4xx in the API's error shape, and nothing stored — no signal, contact, message,
handoff event or state change. (claim and release take no body and read none.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from handoffs.models import Handoff, HandoffEvent, Message
from handoffs.services import handoff_claim
from journeys.models import Contact, Signal

LIMIT = 4096  # BATON_MAX_BODY_BYTES for these tests

BODIES: dict[str, tuple[bytes, str]] = {
    "invalid UTF-8": (b'{"type": "form\xff\xfe", "body": "caf\xe9"}', "application/json"),
    "a list": (b"[]", "application/json"),
    "a string": (b'"hello"', "application/json"),
    "null": (b"null", "application/json"),
    "a number": (b"42", "application/json"),
    "deep arrays": (b"[" * 5000 + b"]" * 5000, "application/json"),
    "deep objects": (b'{"a":' * 3000 + b"1" + b"}" * 3000, "application/json"),
    "not JSON": (b"{type: form_submitted}", "application/json"),
    "a form": (b"type=form_submitted&body=hi", "application/x-www-form-urlencoded"),
    "multipart": (
        b'--x\r\nContent-Disposition: form-data; name="body"\r\n\r\nhi\r\n--x--\r\n',
        "multipart/form-data; boundary=x",
    ),
    "plain text": (b"hello", "text/plain"),
    "an unknown field": (b'{"zzz_unknown": 1}', "application/json"),
    "wrong types": (
        b'{"type": 3, "contact": "x", "signals": {}, "channel": 1, "body": 5,'
        b' "resolution": [], "resume_automation": "maybe", "username": {}}',
        "application/json",
    ),
    "too large": (b'{"body": "' + b"x" * (LIMIT * 2) + b'"}', "application/json"),
}


def signal(n: int) -> dict[str, Any]:
    return {"type": "form_submitted", "contact": {"external_id": f"c-{n}"}}


# (who, path; "{h}" is the handoff's id)
ENDPOINTS = [
    ("key", "/api/v1/signals/"),
    ("key", "/api/v1/signals/batch/"),
    ("key", "/api/v1/messages/inbound/"),
    ("key", "/api/v1/chat/sessions/"),
    ("key", "/v1/track"),
    ("key", "/v1/batch"),
    ("riley", "/api/v1/handoffs/{h}/reply/"),
    ("riley", "/api/v1/handoffs/{h}/resolve/"),
    ("sam", "/api/v1/handoffs/{h}/reassign/"),
]


def snapshot(handoff: Handoff) -> tuple[Any, ...]:
    handoff.refresh_from_db()
    return (
        Signal.objects.count(),
        Contact.objects.count(),
        Message.objects.count(),
        HandoffEvent.objects.count(),
        handoff.status,
        handoff.assignee_id,
    )


@pytest.mark.parametrize("kind", list(BODIES))
@pytest.mark.parametrize(("who", "path"), ENDPOINTS)
def test_a_bad_body_is_a_clear_4xx_and_changes_nothing(
    org, api_key, send_signal, settings, who, path, kind
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    send_signal(budget=90000)
    handoff = Handoff.objects.get()
    handoff_claim(handoff_id=handoff.pk, user=org.users["riley"])
    before = snapshot(handoff)
    client = Client()
    headers = {}
    if who == "key":
        headers["authorization"] = f"Bearer {api_key}"
    else:
        client.force_login(org.users[who])
    body, content_type = BODIES[kind]

    response = client.generic(
        "POST", path.format(h=handoff.pk), body, content_type=content_type, headers=headers
    )

    assert 400 <= response.status_code < 500, response.content
    if kind == "too large":
        assert response.status_code == 413
    if kind in ("a form", "multipart", "plain text") and not path.startswith("/v1/"):
        assert response.status_code == 415  # JSON only (Segment takes any type as JSON)
    answer = response.json()
    assert answer["detail"]
    assert snapshot(handoff) == before


def test_a_declared_charset_is_honoured_not_mangled(org, as_user, send_signal):
    send_signal(budget=90000)
    handoff = Handoff.objects.get()
    handoff_claim(handoff_id=handoff.pk, user=org.users["riley"])
    client = Client()
    client.force_login(org.users["riley"])

    response = client.generic(
        "POST",
        f"/api/v1/handoffs/{handoff.pk}/reply/",
        '{"body": "Ça coûte 40 €?"}'.encode("cp1252"),
        content_type="application/json; charset=cp1252",
    )

    assert response.status_code == 201, response.content
    assert response.json()["body"].startswith("Ça coûte 40 €?")


def test_an_invalid_content_length_is_a_400(org, api_key):
    response = Client().generic(
        "POST",
        "/api/v1/signals/",
        b"{}",
        content_type="application/json",
        headers={"authorization": f"Bearer {api_key}"},
        CONTENT_LENGTH="12abc",
    )

    assert response.status_code == 400
    assert "Content-Length" in response.json()["detail"]
    assert not Signal.objects.exists()
