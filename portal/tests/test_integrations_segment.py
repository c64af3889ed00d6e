"""The Segment/RudderStack HTTP Tracking API: the real segment-analytics-python SDK against a live
server, and the endpoints' answers to bad input (each refused request stores nothing)."""

from __future__ import annotations

import base64
import gzip
import json
import os
import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from conftest import Org
from handoffs.choices import Priority, Trigger
from handoffs.models import Handoff
from handoffs.tests import e2e_support as e2e
from journeys.models import Account, Contact, Signal
from portal.integrations.naming import signal_type_for
from portal.services import api_key_create


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def segment_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(key))
    return client


def post(client: APIClient, path: str, body: Any, **extra: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json", **extra)


def track(**overrides: Any) -> dict[str, Any]:
    event = {
        "type": "track",
        "messageId": str(uuid.uuid4()),
        "userId": "c-1001",
        "event": "Form Submitted",
        "properties": {"budget": 50000, "currency": "GBP"},
        "context": {"traits": {"email": "ada@example.com", "name": "Ada Lovelace"}},
        "timestamp": "2026-11-21T10:00:00.000Z",
    }
    event.update(overrides)
    return event


# ---- the mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Form Submitted", "form_submitted"),
        ("formSubmitted", "form_submitted"),
        ("checkout.started", "checkout_started"),
        ("Café Visited", "cafe_visited"),
        ("  Signed Up! ", "signed_up"),
        ("deal_stage_changed", "deal_stage_changed"),
    ],
)
def test_event_names_become_signal_types(name: str, expected: str) -> None:
    assert signal_type_for(name) == expected


def test_a_track_becomes_a_signal_with_its_traits_on_the_contact(org: Org, api_key: str) -> None:
    response = post(segment_client(api_key), "/v1/track", track())

    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
    signal = Signal.objects.select_related("contact").get()
    assert signal.type == "form_submitted"
    assert signal.properties == {"budget": 50000, "currency": "GBP"}
    assert signal.occurred_at.isoformat() == "2026-11-21T10:00:00+00:00"
    assert (signal.contact.external_id, signal.contact.email, signal.contact.name) == (
        "c-1001",
        "ada@example.com",
        "Ada Lovelace",
    )
    # The demo rule reads Segment's properties like any other signal's: £50,000 goes to Sales.
    handoff = Handoff.objects.get()
    assert (handoff.trigger, handoff.priority) == (Trigger.HIGH_VALUE, Priority.URGENT)


def test_identify_maps_traits_to_contact_fields_and_keeps_the_rest(org: Org, api_key: str) -> None:
    body = {
        "messageId": "id-1",
        "userId": "u-42",
        "traits": {
            "firstName": "Grace",
            "lastName": "Hopper",
            "email": "grace@example.com",
            "phone": "+447700900456",
            "timezone": "Europe/London",
            "company": {"id": "navy", "name": "US Navy", "plan": "enterprise"},
            "title": "Rear Admiral",
        },
    }
    response = post(segment_client(api_key), "/v1/identify", body)

    assert response.status_code == 200, response.content
    contact = Contact.objects.select_related("account").get(external_id="u-42")
    assert (contact.name, contact.email, contact.phone, contact.timezone) == (
        "Grace Hopper",
        "grace@example.com",
        "+447700900456",
        "Europe/London",
    )
    assert (contact.account.external_id, contact.account.name) == ("navy", "US Navy")
    signal = Signal.objects.get()
    assert (signal.type, signal.properties) == ("identify", {"title": "Rear Admiral"})


def test_page_and_anonymous_visitors(org: Org, api_key: str) -> None:
    body = {
        "messageId": "p-1",
        "anonymousId": "anon-7",
        "name": "Pricing",
        "properties": {"url": "https://example.com/pricing"},
    }
    assert post(segment_client(api_key), "/v1/page", body).status_code == 200

    signal = Signal.objects.select_related("contact").get()
    assert signal.type == "page_viewed"
    assert signal.properties == {"url": "https://example.com/pricing", "name": "Pricing"}
    assert signal.contact.external_id == "anonymous:anon-7"


def test_the_short_paths_take_the_write_key_from_a_text_plain_body(org: Org, api_key: str) -> None:
    """analytics.js posts to /v1/t with the key in the body and Content-Type text/plain."""
    body = {**track(), "writeKey": api_key, "sentAt": "2026-11-21T10:00:01.000Z"}
    response = APIClient().post("/v1/t", json.dumps(body), content_type="text/plain")

    assert response.status_code == 200, response.content
    assert Signal.objects.get().type == "form_submitted"


def test_a_batch_keeps_good_events_and_names_the_bad_ones(org: Org, api_key: str) -> None:
    batch = [
        track(),
        track(event="!!!"),
        {"type": "identify", "messageId": "m-3", "userId": "u-1", "traits": {"email": "nope"}},
        {"type": "track", "userId": "u-2", "event": "Trial Started"},
    ]
    response = post(segment_client(api_key), "/v1/batch", {"batch": batch})

    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["success"], answer["accepted"], answer["duplicates"]) == (True, 1, 0)
    errors = {e["index"]: e for e in answer["errors"]}
    assert set(errors) == {1, 2, 3}
    assert "event" in errors[1]["errors"]
    assert errors[2]["errors"] == {"traits.email": ["Enter a valid email address."]}
    assert "messageId" in errors[3]["errors"]
    assert Signal.objects.count() == 1


def test_a_repeated_message_id_is_counted_once(org: Org, api_key: str) -> None:
    event = track(messageId="m-same")
    client = segment_client(api_key)
    first = post(client, "/v1/batch", {"batch": [event, event]}).json()
    again = post(client, "/v1/batch", {"batch": [event], "sentAt": "later"}).json()

    assert (first["accepted"], first["duplicates"]) == (1, 1)
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert Signal.objects.count() == 1
    assert Handoff.objects.count() == 1


def test_a_message_id_reused_for_another_event_is_a_409(org: Org, api_key: str) -> None:
    client = segment_client(api_key)
    assert post(client, "/v1/track", track(messageId="m-1")).status_code == 200

    response = post(client, "/v1/track", track(messageId="m-1", event="Deal Won"))

    assert response.status_code == 409
    assert response.json()["success"] is False
    assert "messageId" in response.json()["errors"]
    assert Signal.objects.count() == 1


def test_gzip_bodies_are_read(org: Org, api_key: str) -> None:
    raw = gzip.compress(json.dumps({"batch": [track()]}).encode())
    response = segment_client(api_key).post(
        "/v1/batch", raw, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )

    assert response.status_code == 200, response.content
    assert Signal.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "encoding", "status", "detail"),
    [
        (b"{not json", "", 400, "not JSON"),
        (b"plain bytes", "gzip", 400, "not"),
        (gzip.compress(b"x" * (6 * 1024 * 1024)), "gzip", 413, "decompressed"),
        (json.dumps({"batch": []}).encode(), "", 400, "Invalid input"),
        (json.dumps({"batch": [track()]}).encode(), "br", 415, "gzip"),
    ],
    ids=["not-json", "bad-gzip", "gzip-bomb", "empty-batch", "brotli"],
)
def test_bad_bodies_are_clear_errors_that_store_nothing(
    org: Org, api_key: str, body: bytes, encoding: str, status: int, detail: str
) -> None:
    extra = {"HTTP_CONTENT_ENCODING": encoding} if encoding else {}
    response = segment_client(api_key).post(
        "/v1/batch", body, content_type="application/json", **extra
    )

    assert response.status_code == status, response.content
    answer = response.json()
    assert answer["success"] is False
    assert detail in answer["message"]
    assert Signal.objects.count() == 0
    assert Contact.objects.count() == 0


def test_a_refused_single_event_names_the_segment_field(org: Org, api_key: str) -> None:
    response = post(
        segment_client(api_key), "/v1/track", track(timestamp="yesterday", messageId="m-t")
    )

    assert response.status_code == 400
    assert "timestamp" in response.json()["errors"]
    assert Signal.objects.count() == 0


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic " + base64.b64encode(b"bk_nope_nope:").decode(), "Basic !!notbase64", "Token x"],
    ids=["none", "unknown-key", "malformed", "other-scheme"],
)
def test_without_a_valid_write_key_nothing_is_stored(org: Org, authorization: str | None) -> None:
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    response = post(client, "/v1/batch", {"batch": [track()]})

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response["WWW-Authenticate"].startswith("Basic")
    assert Signal.objects.count() == 0


def test_group_and_alias(org: Org, api_key: str) -> None:
    client = segment_client(api_key)
    group = {"messageId": "g-1", "userId": "u-9", "groupId": "acme", "traits": {"name": "Acme"}}
    alias = {"messageId": "a-1", "userId": "u-9", "previousId": "anon-9"}
    assert post(client, "/v1/group", group).status_code == 200
    assert post(client, "/v1/alias", alias).status_code == 200

    assert Account.objects.get(external_id="acme").name == "Acme"
    assert Contact.objects.get(external_id="u-9").account.external_id == "acme"
    assert Signal.objects.get(type="alias").properties == {"previous_id": "anon-9"}


# ---- the real SDK against a live server -----------------------------------------------------


def _why_no_live_server() -> str | None:
    if not os.environ.get("REDIS_URL"):
        return "needs REDIS_URL (the live server runs production settings)"
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return "needs DATABASE_URL on PostgreSQL (the server shares pytest's test database)"
    return None


@pytest.fixture
def live(transactional_db: Any, request: pytest.FixtureRequest) -> Any:
    from django.db import connection

    server = e2e.LiveServer(
        database_url=e2e.database_url_for(connection.settings_dict),
        redis_url=os.environ["REDIS_URL"],
        log_path=e2e.ARTIFACTS / f"segment-server-{request.node.name[:50]}.log",
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(_why_no_live_server() is not None, reason=_why_no_live_server() or "")
@pytest.mark.parametrize("gzip_bodies", [False, True], ids=["plain", "gzip"])
def test_the_segment_sdk_sends_batches_to_a_live_server(live: Any, gzip_bodies: bool) -> None:
    from segment.analytics import Client

    from conftest import build_org

    build_org()
    _, key = api_key_create(name="segment source")
    errors: list[Any] = []
    client = Client(
        key,
        host=live.url,
        gzip=gzip_bodies,
        upload_size=5,  # several batches
        on_error=lambda error, batch: errors.append((error, batch)),
        max_retries=0,
    )
    with live.log_on_failure():
        client.identify(
            "c-2001", {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"}
        )
        client.track(
            "c-2001",
            "Form Submitted",
            {"budget": 75000, "currency": "GBP"},
            message_id="form-2001",
        )
        for n in range(8):
            client.page("c-2001", name=f"Docs {n}", properties={"path": f"/docs/{n}"})
        client.flush()
        # A retry of the same event (the SDK resends on a lost answer) is not counted twice.
        client.track(
            "c-2001",
            "Form Submitted",
            {"budget": 75000, "currency": "GBP"},
            message_id="form-2001",
            timestamp=Signal.objects.get(idempotency_key="form-2001").occurred_at,
        )
        client.flush()
        client.shutdown()

    assert errors == []
    assert Signal.objects.filter(type="identify").count() == 1
    assert Signal.objects.filter(type="form_submitted").count() == 1
    assert Signal.objects.filter(type="page_viewed").count() == 8
    contact = Contact.objects.get(external_id="c-2001")
    assert (contact.name, contact.email) == ("Ada Lovelace", "ada@example.com")
    handoff = Handoff.objects.get()
    assert (handoff.contact_id, handoff.trigger) == (contact.pk, Trigger.HIGH_VALUE)


@pytest.mark.parametrize("size", [10, 500])
def test_a_batch_costs_the_same_queries_whatever_its_size(
    org: Org, api_key: str, size: int, django_assert_num_queries: Any
) -> None:
    """Set-based like /api/v1/signals/batch/: a handful of queries per batch, not per event."""
    batch = [
        track(messageId=f"m-{n}", userId=f"u-{n}", event="Page Scrolled", properties={"n": n})
        for n in range(size)
    ]
    client = segment_client(api_key)
    with django_assert_num_queries(11):
        response = post(client, "/v1/batch", {"batch": batch})

    assert response.json()["accepted"] == size
