"""Rate limits per API key, per person on the API and per person on the portal's writes: 429 with
Retry-After, nothing stored for a refused request, other callers unaffected, the window resets,
and the count is atomic under concurrency (real Redis + PostgreSQL, and the in-process
fallback)."""

from __future__ import annotations

import base64
import os
import random
import types
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client
from django_ratelimit import core as ratelimit_core
from rest_framework.test import APIClient

from conftest import key_client, run_concurrently, signal_body
from handoffs.models import Handoff, Message
from journeys.models import Signal
from portal import ratelimit
from portal.choices import AvailabilityStatus
from portal.models import ApiKey, Availability
from portal.services import api_key_create

SIGNALS = "/api/v1/signals/"
LOCAL_CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rl"},
}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The limiter's clock, frozen at the start of an hour of its own (advance it by assigning to
    clock[0]): counters a previous run left in Redis belong to other windows."""
    now = [float(random.randrange(10**6, 10**7) * 3600)]
    monkeypatch.setattr(ratelimit_core, "time", types.SimpleNamespace(time=lambda: now[0]))
    return now


def send(client: APIClient, n: int) -> Any:
    return client.post(SIGNALS, signal_body(external_id=f"c-{n}", budget=None), format="json")


def limited_key(limit: int | None) -> tuple[ApiKey, str]:
    return api_key_create(name=f"limited {limit}", rate_limit_per_minute=limit)


def test_a_key_over_its_limit_gets_429_with_retry_after_and_nothing_is_stored(org, clock):
    _key, raw = limited_key(3)
    client = key_client(raw)

    answers = [send(client, n) for n in range(4)]

    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    refused = answers[-1]
    retry_after = int(refused["Retry-After"])
    assert 1 <= retry_after <= 60
    assert refused.json() == {
        "detail": f"Too many requests: this API key may make 3 per minute. "
        f"Try again in {retry_after} s."
    }
    assert sorted(Signal.objects.values_list("contact__external_id", flat=True)) == [
        "c-0",
        "c-1",
        "c-2",
    ]


def test_reads_count_against_the_same_key(org, clock):
    _, raw = api_key_create(name="reader", can_read_handoffs=True, rate_limit_per_minute=2)
    client = key_client(raw)

    codes = [client.get("/api/v1/handoffs/").status_code for _ in range(2)]
    codes.append(send(client, 1).status_code)

    assert codes == [200, 200, 429]
    assert not Signal.objects.exists()


def test_other_keys_are_unaffected_by_one_keys_limit(org, clock):
    _, first = limited_key(1)
    _, second = limited_key(1)

    assert send(key_client(first), 1).status_code == 202
    assert send(key_client(first), 2).status_code == 429
    assert send(key_client(second), 3).status_code == 202


def test_a_key_without_its_own_limit_takes_the_default(org, clock, settings):
    settings.BATON_RATE_LIMIT_KEY_PER_MINUTE = 2
    _, raw = limited_key(None)
    client = key_client(raw)

    assert [send(client, n).status_code for n in range(3)] == [202, 202, 429]


def test_a_key_limit_of_zero_means_no_limit(org, clock, settings):
    settings.BATON_RATE_LIMIT_KEY_PER_MINUTE = 1
    _, raw = limited_key(0)
    client = key_client(raw)

    assert {send(client, n).status_code for n in range(5)} == {202}


def test_the_window_resets(org, clock):
    _, raw = limited_key(2)
    client = key_client(raw)
    assert [send(client, n).status_code for n in range(3)] == [202, 202, 429]

    clock[0] += 61  # the next minute's window

    assert [send(client, n).status_code for n in range(3, 6)] == [202, 202, 429]
    assert Signal.objects.count() == 4


def test_segment_writes_count_against_the_key_and_answer_in_segments_shape(org, clock):
    _, raw = limited_key(1)
    client = APIClient()
    basic = base64.b64encode(f"{raw}:".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {basic}")
    event = {"userId": "c-9", "event": "Form Submitted", "messageId": "m-1"}

    first = client.post("/v1/track", event, format="json")
    second = client.post("/v1/track", {**event, "messageId": "m-2"}, format="json")

    assert first.status_code == 200, first.content
    assert second.status_code == 429
    assert int(second["Retry-After"]) >= 1
    assert second.json()["success"] is False
    assert "per minute" in second.json()["message"]
    assert Signal.objects.count() == 1


def test_a_person_on_the_api_is_limited_per_person(org, as_user, send_signal, settings, clock):
    send_signal(budget=90000)
    handoff = Handoff.objects.get()
    settings.BATON_RATE_LIMIT_USER_API_PER_MINUTE = 2
    riley, sam = as_user("riley"), as_user("sam")

    codes = [riley.get("/api/v1/handoffs/").status_code for _ in range(2)]
    refused = riley.post(f"/api/v1/handoffs/{handoff.pk}/claim/")

    assert codes == [200, 200]
    assert refused.status_code == 429
    assert "Retry-After" in refused
    handoff.refresh_from_db()
    assert handoff.assignee_id is None  # the refused claim changed nothing
    assert sam.post(f"/api/v1/handoffs/{handoff.pk}/claim/").status_code == 200


def test_portal_writes_over_the_limit_get_a_429_page_and_change_nothing(org, settings, clock):
    settings.BATON_RATE_LIMIT_USER_WRITES_PER_MINUTE = 2
    client = Client()
    client.force_login(org.users["riley"])
    url = "/me/availability/status/"

    for status in (AvailabilityStatus.AVAILABLE, AvailabilityStatus.AWAY):
        assert client.post(url, {"status": status}).status_code == 302
    assert client.get("/me/availability/").status_code == 200  # reads are not counted
    refused = client.post(url, {"status": AvailabilityStatus.OFFLINE})

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    page = refused.content.decode()
    assert "more than 2 changes this minute" in page and "Nothing was saved" in page
    assert Availability.objects.get(user=org.users["riley"]).status == AvailabilityStatus.AWAY


def test_an_htmx_write_over_the_limit_gets_a_toast(org, settings, clock, send_signal):
    send_signal(budget=90000)
    handoff = Handoff.objects.get()
    settings.BATON_RATE_LIMIT_USER_WRITES_PER_MINUTE = 1
    client = Client()
    client.force_login(org.users["riley"])
    client.post(f"/handoffs/{handoff.pk}/claim/", HTTP_HX_REQUEST="true")

    refused = client.post(
        f"/handoffs/{handoff.pk}/reply/", {"body": "Hello"}, HTTP_HX_REQUEST="true"
    )

    assert refused.status_code == 429
    assert refused["HX-Retarget"] == "#toasts"
    assert refused["HX-Reswap"] == "afterbegin"
    assert 'class="toast' in refused.content.decode()
    assert "<html" not in refused.content.decode()
    assert not Message.objects.filter(direction="out", automated=False).exists()


def test_other_people_are_unaffected_and_logout_is_never_refused(org, settings, clock):
    settings.BATON_RATE_LIMIT_USER_WRITES_PER_MINUTE = 1
    riley, sam = Client(), Client()
    riley.force_login(org.users["riley"])
    sam.force_login(org.users["sam"])
    url = "/me/availability/status/"

    assert riley.post(url, {"status": "available"}).status_code == 302
    assert riley.post(url, {"status": "away"}).status_code == 429
    assert sam.post(url, {"status": "available"}).status_code == 302
    assert riley.post("/accounts/logout/").status_code == 302


def test_a_dead_counter_lets_requests_through(org, settings, monkeypatch):
    """Redis down: ingestion goes on (the issue's fault 2 keeps accepting durably)."""
    monkeypatch.setattr(ratelimit, "_counter_down_until", 0.0)
    settings.CACHES = {
        **LOCAL_CACHES,
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }
    _, raw = limited_key(1)
    client = key_client(raw)

    assert [send(client, n).status_code for n in range(3)] == [202, 202, 202]
    assert ratelimit._counter_down_until > 0  # and it stops asking for a while


def test_a_keys_limit_is_set_in_admin(org, client):
    client.force_login(
        type(org.users["olive"]).objects.create_superuser("root", "root@example.com", "pw")
    )

    response = client.post(
        "/admin/portal/apikey/add/",
        {"name": "CRM", "rate_limit_per_minute": "250"},
    )

    assert response.status_code == 302, response.content
    assert ApiKey.objects.get(name="CRM").rate_limit_per_minute == 250


# --- concurrency: the counter is atomic ---------------------------------------------------------


def _storm(raw: str, n: int) -> list[int]:
    def call(i: int) -> Any:
        return lambda: send(key_client(raw), i).status_code

    return run_concurrently([call(i) for i in range(n)])


def _redis_configured() -> str | None:
    if not os.environ.get("REDIS_URL"):
        return "needs REDIS_URL: the production counter is Redis"
    return None


@pytest.mark.skipif(_redis_configured() is not None, reason=str(_redis_configured()))
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_on_redis_never_exceed_the_limit(clock):
    assert "Redis" in type(caches["ratelimit"]).__name__
    from conftest import build_org

    build_org()
    _, raw = limited_key(5)

    codes = _storm(raw, 24)

    assert sorted(codes) == [202] * 5 + [429] * 19
    assert Signal.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_on_the_local_fallback_never_exceed_the_limit(settings, clock):
    settings.CACHES = LOCAL_CACHES
    from conftest import build_org

    build_org()
    _, raw = limited_key(5)

    codes = _storm(raw, 16)

    assert sorted(codes) == [202] * 5 + [429] * 11
    assert Signal.objects.count() == 5
