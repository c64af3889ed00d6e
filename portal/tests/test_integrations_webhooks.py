"""Generic signed webhooks: HMAC-SHA256 over `timestamp.body`, a 5-minute window both ways,
replays refused, two secrets during a rotation, and an admin mapping from any JSON to a signal.
Every refused request changes nothing (rows are counted)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from conftest import Org
from handoffs.choices import Trigger
from handoffs.models import Handoff
from journeys.models import Contact, Signal
from journeys.services import contact_upsert
from portal.integrations import signing
from portal.integrations.models import InboundWebhook, WebhookDelivery
from portal.integrations.services import (
    inbound_webhook_create,
    inbound_webhook_retire_previous_secret,
    inbound_webhook_rotate_secret,
)
from portal.integrations.webhooks import preview

URL = "/api/v1/hooks/hubspot-deals/"

# A HubSpot-workflow-shaped payload (what a "Send a webhook" action posts).
PAYLOAD = {
    "objectId": 1234,
    "event": {"name": "Form Submitted", "at": "2026-11-21T10:00:00Z"},
    "contact": {"id": "c-1001", "email": "ada@example.com", "firstname": "Ada"},
    "company": {"id": "acme", "name": "Acme Ltd"},
    "deal": {"amount": 50000, "currency": "GBP", "stage": "qualified"},
}


@pytest.fixture
def webhook(org: Org) -> tuple[InboundWebhook, str]:
    hook = InboundWebhook(
        name="HubSpot deals",
        slug="hubspot-deals",
        type_path="event.name",
        external_id_path="contact.id",
        email_path="contact.email?",
        name_path="contact.firstname?",
        account_external_id_path="company.id?",
        account_name_path="company.name?",
        occurred_at_path="event.at?",
        property_paths={"budget": "deal.amount", "currency": "deal.currency", "utm": "utm?"},
    )
    secret = inbound_webhook_create(webhook=hook, actor=org.users["olive"])
    return hook, secret


def deliver(
    body: bytes | dict[str, Any],
    secret: str | None,
    *,
    timestamp: int | None = None,
    delivery: str | None = None,
    signature: str | None = None,
    headers: dict[str, str] | None = None,
    url: str = URL,
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    extra: dict[str, str] = {}
    if secret is not None:
        extra["HTTP_X_BATON_TIMESTAMP"] = stamp
        extra["HTTP_X_BATON_SIGNATURE"] = signature or signing.signature_header(secret, stamp, raw)
    if delivery is not None:
        extra["HTTP_X_BATON_DELIVERY"] = delivery
    for name, value in (headers or {}).items():
        extra["HTTP_" + name.upper().replace("-", "_")] = value
    return Client().post(url, raw, content_type="application/json", **extra)


def counts() -> tuple[int, int, int, int]:
    return (
        Signal.objects.count(),
        Contact.objects.count(),
        Handoff.objects.count(),
        WebhookDelivery.objects.count(),
    )


# ---- signing (pure) -------------------------------------------------------------------------


def test_sign_and_verify_agree_and_the_signature_is_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"a": 1}'
    expected = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.sign("whsec_x", 1700000000, body) == expected
    assert (
        signing.verify(
            secrets=["whsec_x"],
            timestamp="1700000000",
            signature=f"v1={expected}",
            body=body,
            now=1700000100,
        )
        == 1700000000
    )


# ---- the happy path -------------------------------------------------------------------------


def test_a_signed_delivery_becomes_a_mapped_signal(webhook: Any) -> None:
    _hook, secret = webhook
    response = deliver(PAYLOAD, secret, delivery="evt-1")

    assert response.status_code == 202, response.content
    signal = Signal.objects.select_related("contact", "account").get()
    assert response.json() == {"id": str(signal.pk), "duplicate": False}
    assert signal.type == "form_submitted"
    assert signal.properties == {"budget": 50000, "currency": "GBP"}
    assert signal.occurred_at.isoformat() == "2026-11-21T10:00:00+00:00"
    assert (signal.contact.external_id, signal.contact.email, signal.contact.name) == (
        "c-1001",
        "ada@example.com",
        "Ada",
    )
    assert (signal.account.external_id, signal.account.name) == ("acme", "Acme Ltd")
    # Rules see it like any signal: the £50,000 budget raises the high-value handoff.
    assert Handoff.objects.get().trigger == Trigger.HIGH_VALUE
    assert WebhookDelivery.objects.get().signal_id == signal.pk


def test_without_an_external_id_the_contact_is_found_by_email(org: Org) -> None:
    ada = contact_upsert(external_id="crm-77", fields={"email": "ada@example.com"})
    hook = InboundWebhook(
        name="Zapier leads",
        slug="zapier-leads",
        type_value="form_submitted",
        email_path="email",
        name_path="name?",
        property_paths={"budget": "budget?"},
    )
    secret = inbound_webhook_create(webhook=hook, actor=org.users["olive"])
    body = {"email": "ADA@example.com", "name": "Ada L", "budget": 500}
    response = deliver(body, secret, url="/api/v1/hooks/zapier-leads/")

    assert response.status_code == 202, response.content
    signal = Signal.objects.get()
    assert signal.contact_id == ada.pk
    assert Contact.objects.count() == 1
    assert signal.properties == {"budget": 500}


# ---- refusals: nothing changes --------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        "tampered-body",
        "wrong-secret",
        "stale",
        "future",
        "no-signature",
        "no-timestamp",
        "garbled-signature",
        "signed-with-another-timestamp",
    ],
)
def test_a_request_that_is_not_genuinely_signed_now_is_401_and_stores_nothing(
    webhook: Any, case: str
) -> None:
    _hook, secret = webhook
    now = int(time.time())
    body = json.dumps(PAYLOAD).encode()
    if case == "tampered-body":
        good = signing.signature_header(secret, now, body)
        tampered = body.replace(b"50000", b"99999")
        response = deliver(tampered, secret, timestamp=now, signature=good)
    elif case == "wrong-secret":
        response = deliver(body, "whsec_not-the-secret")
    elif case == "stale":
        response = deliver(body, secret, timestamp=now - signing.DEFAULT_TOLERANCE_SECONDS - 60)
    elif case == "future":
        response = deliver(body, secret, timestamp=now + signing.DEFAULT_TOLERANCE_SECONDS + 60)
    elif case == "no-signature":
        response = deliver(body, None, headers={"X-Baton-Timestamp": str(now)})
    elif case == "no-timestamp":
        response = deliver(
            body, None, headers={"X-Baton-Signature": signing.signature_header(secret, now, body)}
        )
    elif case == "garbled-signature":
        response = deliver(body, secret, signature="sha256=abc")
    else:
        response = deliver(
            body, secret, timestamp=now, signature=signing.signature_header(secret, now - 1, body)
        )

    assert response.status_code == 401, response.content
    assert response.json()["detail"]
    assert counts() == (0, 0, 0, 0)


def test_within_the_window_either_way_is_accepted(webhook: Any) -> None:
    _hook, secret = webhook
    now = int(time.time())
    assert deliver(PAYLOAD, secret, timestamp=now - 280, delivery="a").status_code == 202
    assert deliver(PAYLOAD, secret, timestamp=now + 280, delivery="b").status_code == 202


@pytest.mark.parametrize("by", ["delivery-id", "same-signed-request"])
def test_a_replayed_delivery_is_refused_and_changes_nothing(webhook: Any, by: str) -> None:
    _hook, secret = webhook
    body = json.dumps(PAYLOAD).encode()
    now = int(time.time())
    delivery = "evt-9" if by == "delivery-id" else None
    first = deliver(body, secret, timestamp=now, delivery=delivery)
    assert first.status_code == 202
    before = counts()

    # The same delivery id re-signed later, or the very same signed request sent again.
    again = deliver(body, secret, timestamp=now + (5 if delivery else 0), delivery=delivery)

    assert again.status_code == 409, again.content
    assert first.json()["id"] in again.json()["detail"]
    assert counts() == before


def test_both_secrets_work_during_a_rotation_and_a_retired_one_is_refused(
    webhook: Any, org: Org
) -> None:
    hook, old = webhook
    _rotated, new = inbound_webhook_rotate_secret(webhook_id=hook.pk, actor=org.users["olive"])
    assert new != old

    assert deliver(PAYLOAD, old, delivery="1").status_code == 202
    assert deliver(PAYLOAD, new, delivery="2").status_code == 202
    # A sender mid-switch may send both signatures at once.
    body = json.dumps(PAYLOAD).encode()
    now = int(time.time())
    both = f"{signing.signature_header(old, now, body)}, {signing.signature_header(new, now, body)}"
    assert deliver(body, new, timestamp=now, signature=both, delivery="3").status_code == 202

    assert inbound_webhook_retire_previous_secret(webhook_id=hook.pk, actor=org.users["olive"])
    before = counts()
    assert deliver(PAYLOAD, old, delivery="4").status_code == 401
    assert deliver(PAYLOAD, new, delivery="5").status_code == 202
    assert counts()[0] == before[0] + 1


def test_an_unknown_or_inactive_webhook_is_404(webhook: Any) -> None:
    hook, secret = webhook
    assert deliver(PAYLOAD, secret, url="/api/v1/hooks/nope/").status_code == 404
    InboundWebhook.objects.filter(pk=hook.pk).update(is_active=False)
    assert deliver(PAYLOAD, secret).status_code == 404
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda p: p.pop("deal"), "properties.budget", "'deal.amount' is missing"),
        (lambda p: p["event"].pop("name"), "type", "'event.name' is missing"),
        (lambda p: p.pop("contact"), "contact.external_id", "'contact.id' is missing"),
        (lambda p: p["event"].update(name="!!!"), "type", "no letters"),
        (lambda p: p["event"].update(at="yesterday"), "occurred_at", "format"),
        (lambda p: p["contact"].update(email="not-an-email"), "contact.email", "valid email"),
    ],
    ids=["property", "type", "contact", "unusable-type", "bad-time", "bad-email"],
)
def test_a_payload_the_mapping_cannot_use_is_a_400_naming_the_path(
    webhook: Any, change: Any, field: str, words: str
) -> None:
    _hook, secret = webhook
    payload = json.loads(json.dumps(PAYLOAD))
    change(payload)
    response = deliver(payload, secret)

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors
    assert words in " ".join(errors[field])
    assert counts() == (0, 0, 0, 0)


def test_a_body_that_is_not_json_is_a_400(webhook: Any) -> None:
    _hook, secret = webhook
    response = deliver(b"not json", secret)

    assert response.status_code == 400
    assert counts() == (0, 0, 0, 0)


def test_a_refused_payload_can_be_fixed_and_sent_again(webhook: Any) -> None:
    """A 400 stores no delivery record, so the sender's corrected retry is not a 'replay'."""
    _hook, secret = webhook
    broken = {k: v for k, v in PAYLOAD.items() if k != "deal"}
    assert deliver(broken, secret, delivery="evt-5").status_code == 400
    assert deliver(PAYLOAD, secret, delivery="evt-5").status_code == 202


def test_the_preview_shows_the_signal_or_why_not(webhook: Any) -> None:
    hook, _secret = webhook
    good = preview(hook, PAYLOAD)
    assert good.errors == {}
    assert good.data["type"] == "form_submitted"
    assert good.missing_optional == ["utm"]

    bad = preview(hook, {"event": {"name": "Deal Won"}})
    assert set(bad.errors) == {"properties.budget", "properties.currency", "contact.external_id"}
    assert Signal.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_a_delivery_arriving_at_once_make_one_signal() -> None:
    """The unique (webhook, delivery key) settles the race: one 202, one 409, one signal."""
    from conftest import build_org, run_concurrently

    org = build_org()
    hook = InboundWebhook(
        name="n8n", slug="hubspot-deals", type_value="deal_won", external_id_path="contact.id"
    )
    secret = inbound_webhook_create(webhook=hook, actor=org.users["olive"])
    body = json.dumps(PAYLOAD).encode()
    now = int(time.time())

    answers = run_concurrently(
        [lambda: deliver(body, secret, timestamp=now, delivery="evt-race") for _ in range(4)]
    )

    assert sorted(a.status_code for a in answers) == [202, 409, 409, 409]
    assert Signal.objects.count() == 1
    assert WebhookDelivery.objects.get().signal_id == Signal.objects.get().pk
