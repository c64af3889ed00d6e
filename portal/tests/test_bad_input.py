"""Input PostgreSQL cannot store, or that would crash a parser, is a clear 400 and changes
nothing (found by review; each of these was a 500 on PostgreSQL)."""

import json

import pytest

from conftest import signal_body
from handoffs.models import Handoff, Message
from journeys.models import Signal

SIGNALS = "/api/v1/signals/"


def post_raw(client, url: str, raw: str):
    return client.post(url, raw.encode("utf-8", "surrogatepass"), content_type="application/json")


@pytest.mark.parametrize(
    "properties",
    [
        '{"note": "a\\u0000b"}',
        '{"a\\u0000": 1}',
        '{"x": 1e999}',
        '{"x": NaN}',
        '{"x": "\\ud800"}',
    ],
    ids=["a NUL in a value", "a NUL in a key", "Infinity", "NaN", "a lone surrogate"],
)
def test_properties_postgresql_cannot_store_are_refused(org, integration, properties):
    body = json.dumps(signal_body(budget=None))[:-1] + f', "properties": {properties}}}'
    body = body.replace('"properties": {"currency": "GBP"}, ', "")

    response = post_raw(integration, SIGNALS, body)

    assert response.status_code == 400, response.content
    answer = response.json()
    # Either the parser refuses it (NaN is not JSON) or validation names the field.
    assert "properties" in answer.get("errors", {}) or "JSON" in answer["detail"]
    assert not Signal.objects.exists()


def test_a_bad_item_in_a_batch_does_not_cost_the_good_ones(org, integration):
    good = [signal_body(external_id=f"c-{n}", budget=100) for n in range(3)]
    bad = signal_body(external_id="c-bad")
    bad["properties"] = {"note": "a\x00b"}

    response = integration.post(SIGNALS + "batch/", {"signals": [*good, bad]}, format="json")

    assert response.status_code == 202
    assert response.json()["accepted"] == 3
    assert [e["index"] for e in response.json()["errors"]] == [3]
    assert Signal.objects.count() == 3


def test_json_nested_past_the_recursion_limit_is_a_400(org, integration):
    response = post_raw(integration, SIGNALS, "[" * 100_000 + "]" * 100_000)

    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/handoffs/?team=%00",
        "/api/v1/handoffs/?assignee=a%00",
        "/api/v1/contacts/?external_id=%00",
    ],
)
def test_a_nul_in_the_query_string_is_a_400(org, as_user, url):
    response = as_user("riley").get(url)

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_a_nul_in_a_form_post_is_refused_and_nothing_is_sent(org, client, send_signal):
    send_signal(budget=90000)
    handoff = Handoff.objects.get()
    client.force_login(org.users["riley"])

    response = client.post(
        f"/handoffs/{handoff.pk}/reply/", {"body": "hello\x00world"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 400
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/handoffs/?contact=" + "9" * 30, "contact"),
        ("/api/v1/handoffs/?page=abc", "page"),
        ("/api/v1/handoffs/?page=-1", "page"),
        ("/api/v1/contacts/?page_size=0", "page_size"),
    ],
)
def test_out_of_range_numbers_are_a_400_naming_the_parameter(org, as_user, url, field):
    response = as_user("riley").get(url)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_timeline_page_past_the_end_is_the_last_page_and_a_huge_one_a_400(
    org, as_user, send_signal
):
    send_signal(budget=90000)
    contact_id = Handoff.objects.get().contact_id
    timeline = f"/api/v1/contacts/{contact_id}/timeline/?page="

    past_the_end = as_user("riley").get(timeline + "999")
    huge = as_user("riley").get(timeline + "9" * 30)  # past the documented maximum

    assert past_the_end.status_code == 200
    assert past_the_end.json()["results"]
    assert huge.status_code == 400
    assert "page" in huge.json()["errors"]
