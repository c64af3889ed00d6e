"""The signal ingestion API: answers, idempotency, batches, bad input and who may call it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import key_client, signal_body
from handoffs.models import Handoff
from journeys.models import Account, Contact, Signal
from portal.models import ApiKey
from portal.services import api_key_create

SIGNALS = "/api/v1/signals/"
BATCH = "/api/v1/signals/batch/"
KEY_REUSED = "This idempotency key was already used with a different body."


def post(client: APIClient, body: Any, url: str = SIGNALS, **headers: Any) -> Any:
    return client.post(url, body, format="json", headers=headers)


def stored() -> tuple[int, int, int]:
    return Signal.objects.count(), Contact.objects.count(), Handoff.objects.count()


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"deeper": value}
    return value


def mutated(change: Any) -> dict[str, Any]:
    body = signal_body(key="bad-1")
    change(body)
    return body


def test_an_accepted_signal_answers_202_with_its_id_and_not_duplicate(org, send_signal):
    response = send_signal(key="form-1")
    assert response.status_code == 202
    assert response.json() == {"id": str(Signal.objects.get().pk), "duplicate": False}


def test_a_signal_creates_its_contact_and_account_by_external_id(org, send_signal):
    send_signal(key="form-1")
    contact = Contact.objects.select_related("account").get(external_id="c-1001")
    assert (contact.name, contact.email, contact.phone, contact.timezone) == (
        "Ada Lovelace",
        "c-1001@example.com",
        "+447700900123",
        "Europe/London",
    )
    assert (contact.account.external_id, contact.account.name) == ("acme", "Acme Ltd")


def test_a_second_signal_updates_the_name_but_keeps_fields_it_did_not_send(org, integration):
    post(integration, signal_body(key="form-1"))
    response = post(
        integration,
        {
            "type": "trial_started",
            "contact": {"external_id": "c-1001", "name": "Ada King"},
            "account": {"external_id": "acme", "name": "Acme Group"},
        },
    )
    assert response.status_code == 202
    contact = Contact.objects.select_related("account").get()
    assert (contact.name, contact.email, contact.phone, contact.timezone) == (
        "Ada King",
        "c-1001@example.com",
        "+447700900123",
        "Europe/London",
    )
    assert (contact.account.external_id, contact.account.name) == ("acme", "Acme Group")
    assert Account.objects.count() == 1


def test_a_signal_without_an_account_keeps_the_contacts_account(org, integration):
    post(integration, signal_body(key="form-1"))
    post(integration, {"type": "trial_started", "contact": {"external_id": "c-1001"}})
    assert Contact.objects.get().account.external_id == "acme"


def test_the_same_key_and_body_answers_like_the_first_and_changes_nothing(org, send_signal):
    first = send_signal(key="form-1").json()
    before = stored()
    evidence = Handoff.objects.get().evidence
    repeat = send_signal(key="form-1")
    assert repeat.status_code == 202
    assert repeat.json() == {"id": first["id"], "duplicate": True}
    assert stored() == before == (1, 1, 1)
    assert Handoff.objects.get().evidence == evidence


def test_the_same_key_with_another_body_is_a_409(org, send_signal):
    send_signal(key="form-1", budget=50000)
    response = send_signal(key="form-1", budget=90000)
    assert response.status_code == 409
    assert response.json() == {"detail": KEY_REUSED}
    assert stored() == (1, 1, 1)


def test_the_idempotency_key_header_is_kept_with_the_signal(org, integration):
    first = post(integration, signal_body(), **{"Idempotency-Key": "hdr-1"})
    assert first.status_code == 202
    assert Signal.objects.get().idempotency_key == "hdr-1"
    repeat = post(integration, signal_body(), **{"Idempotency-Key": "hdr-1"})
    assert repeat.json() == {"id": first.json()["id"], "duplicate": True}


def test_a_key_sent_in_the_body_and_repeated_in_the_header_is_a_duplicate(org, integration):
    first = post(integration, signal_body(key="form-1")).json()
    repeat = post(integration, signal_body(), **{"Idempotency-Key": "form-1"})
    assert repeat.json() == {"id": first["id"], "duplicate": True}
    assert Signal.objects.count() == 1


def test_a_header_key_that_differs_from_the_body_key_is_a_400(org, integration):
    response = post(integration, signal_body(key="body-1"), **{"Idempotency-Key": "hdr-1"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["idempotency_key"]
    assert stored() == (0, 0, 0)


def test_idempotency_is_per_api_key(org, integration):
    other = key_client(api_key_create(name="other integration")[1])
    first = post(integration, signal_body(key="shared-1"))
    second = post(other, signal_body(key="shared-1"))
    assert [first.json()["duplicate"], second.json()["duplicate"]] == [False, False]
    assert first.json()["id"] != second.json()["id"]
    assert Signal.objects.filter(idempotency_key="shared-1").count() == 2


def test_a_batch_keeps_good_items_and_reports_bad_ones_by_index(org, integration):
    bad = signal_body(external_id="c-2", key="b-2")
    bad["contact"]["email"] = "not-an-email"
    items = [
        signal_body(external_id="c-1", key="b-1"),
        bad,
        signal_body(external_id="c-1", key="b-1"),
        signal_body(external_id="c-3", key="b-3", budget=500),
    ]
    response = post(integration, {"signals": items}, BATCH)
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 2,
        "duplicates": 1,
        "errors": [{"index": 1, "errors": {"contact.email": ["Enter a valid email address."]}}],
    }
    assert set(Signal.objects.values_list("idempotency_key", flat=True)) == {"b-1", "b-3"}
    assert set(Contact.objects.values_list("external_id", flat=True)) == {"c-1", "c-3"}
    again = post(integration, {"signals": items}, BATCH).json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert Signal.objects.count() == 2


def test_a_batch_item_reusing_a_key_with_another_body_is_refused_alone(org, integration):
    items = [signal_body(key="k-1", budget=100), signal_body(key="k-1", budget=200)]
    response = post(integration, {"signals": items}, BATCH)
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "errors": [{"index": 1, "errors": {"idempotency_key": [KEY_REUSED]}}],
    }
    assert Signal.objects.get().properties["budget"] == 100


def test_a_batch_of_more_than_1000_signals_is_a_400(org, integration):
    items = [signal_body(external_id=f"c-{i}", budget=None) for i in range(1001)]
    response = post(integration, {"signals": items}, BATCH)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["signals"]
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"signals": []}, id="empty list"),
        pytest.param([signal_body()], id="a bare list"),
        pytest.param({"signals": signal_body()}, id="signals is an object"),
        pytest.param({"items": [signal_body()]}, id="wrong top-level key"),
        pytest.param({"signals": [signal_body()], "extra": 1}, id="an extra key"),
    ],
)
def test_a_batch_of_the_wrong_shape_is_a_400(org, integration, body):
    response = post(integration, body, BATCH)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["signals"]
    assert stored() == (0, 0, 0)


BAD_INPUT = [
    pytest.param(lambda b: b.pop("type"), "type", id="missing type"),
    pytest.param(lambda b: b["contact"].pop("external_id"), "contact.external_id", id="no ext id"),
    pytest.param(lambda b: b.pop("contact"), "contact", id="missing contact"),
    pytest.param(lambda b: b.update(colour="blue"), "colour", id="unknown top-level field"),
    pytest.param(lambda b: b["contact"].update(age=36), "contact.age", id="unknown contact field"),
    pytest.param(lambda b: b["contact"].update(email="ada@"), "contact.email", id="bad email"),
    pytest.param(
        lambda b: b["contact"].update(timezone="Mars/Olympus"), "contact.timezone", id="bad tz"
    ),
    pytest.param(lambda b: b["contact"].update(phone="call me"), "contact.phone", id="bad phone"),
    pytest.param(lambda b: b.update(properties=[1, 2]), "properties", id="properties a list"),
    pytest.param(lambda b: b.update(properties="x"), "properties", id="properties a string"),
    pytest.param(lambda b: b.update(properties=nested(9)), "properties", id="properties too deep"),
    pytest.param(lambda b: b.update(type=42), "type", id="type as number"),
    pytest.param(lambda b: b.update(type=["form_submitted"]), "type", id="type as list"),
    pytest.param(lambda b: b.update(type="form submitted!"), "type", id="type with spaces"),
    pytest.param(lambda b: b.update(occurred_at="yesterday"), "occurred_at", id="bad time"),
    pytest.param(
        lambda b: b.update(contact="c-1001"), "contact.non_field_errors", id="contact str"
    ),
    pytest.param(lambda b: b["account"].pop("external_id"), "account.external_id", id="no acct id"),
]


@pytest.mark.parametrize(("change", "field"), BAD_INPUT)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(org, integration, change, field):
    response = post(integration, mutated(change))
    assert response.status_code == 400
    assert response.json()["detail"]
    assert list(response.json()["errors"]) == [field]
    assert stored() == (0, 0, 0)


def test_properties_nested_to_the_limit_are_accepted(org, integration):
    assert post(integration, signal_body(properties=nested(8))).status_code == 202


@pytest.mark.parametrize(("change", "field"), BAD_INPUT)
def test_a_bad_batch_item_is_reported_under_its_index(org, integration, change, field):
    response = post(integration, {"signals": [signal_body(), mutated(change)]}, BATCH)
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    assert [(e["index"], list(e["errors"])) for e in response.json()["errors"]] == [(1, [field])]


def test_a_body_that_is_not_json_is_a_400(org, integration):
    response = integration.post(SIGNALS, "{type: form", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert stored() == (0, 0, 0)


def test_a_json_array_body_is_a_400(org, integration):
    response = post(integration, [signal_body()])
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["non_field_errors"]
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (SIGNALS, signal_body(properties={"note": "x" * 2000})),
        (BATCH, {"signals": [signal_body(external_id=f"c-{i}") for i in range(10)]}),
    ],
)
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_a_body_over_the_size_limit_is_a_413(org, integration, url, body):
    response = post(integration, body, url)
    assert response.status_code == 413
    assert response.json() == {"detail": "Body larger than 1024 bytes."}
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("url", [SIGNALS, BATCH])
def test_no_credentials_is_a_401_json_answer(org, url):
    body = {"signals": [signal_body()]} if url == BATCH else signal_body()
    response = post(APIClient(), body, url)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="baton"'


def wrong_secret(raw: str) -> str:
    return raw[:-1] + ("b" if raw.endswith("a") else "a")


def revoked_key() -> str:
    key, raw = api_key_create(name="revoked")
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    return raw


@pytest.mark.parametrize(
    "raw_key",
    [
        pytest.param(lambda: "bk_nope_nope", id="unknown key"),
        pytest.param(lambda: "not-even-a-key", id="garbage"),
        pytest.param(lambda: wrong_secret(api_key_create(name="x")[1]), id="wrong secret"),
        pytest.param(revoked_key, id="revoked key"),
    ],
)
def test_a_wrong_or_revoked_key_is_a_401(org, raw_key):
    response = post(key_client(raw_key()), signal_body())
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API key."}
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize(
    ("url", "body"), [(SIGNALS, signal_body()), (BATCH, {"signals": [signal_body()]})]
)
def test_a_person_may_not_send_signals(org, as_user, url, body):
    response = post(as_user("olive"), body, url)
    assert response.status_code == 403
    assert response.json() == {"detail": "Signals are sent by integrations with an API key."}
    assert stored() == (0, 0, 0)
