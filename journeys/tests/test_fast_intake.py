"""The ASGI fast path for `POST /api/v1/signals/` (journeys/api/fast_intake.py): the plain case
is answered from the event loop with Django's own 202 headers, stored and evaluated like any
signal; everything else is Django's answer, word for word. Django is wrapped in a counter to
see which of the two answered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from django.core.asgi import get_asgi_application

from conftest import Org, signal_body
from handoffs.models import Handoff
from journeys.api.fast_intake import signal_fast_path
from journeys.models import Signal
from portal.models import ApiKey
from portal.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/signals/"


class Counted:
    """Django's ASGI app, counting the requests it answers."""

    def __init__(self) -> None:
        self.app = get_asgi_application()
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


@pytest.fixture
def django_app(settings: Any) -> Counted:
    settings.BATON_INGEST_GROUP_COMMIT = True  # the committer thread has its own connection
    return Counted()


def post(app: Any, requests: list[dict[str, Any]]) -> list[httpx.Response]:
    """Each request in turn through `app` (one client, as a keep-alive connection would)."""

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [await client.post(URL, **r) for r in requests]

    return asyncio.run(go())


def signal(api_key: str, **kwargs: Any) -> dict[str, Any]:
    return {
        "content": json.dumps(signal_body(**kwargs)),
        "headers": {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    }


def test_the_plain_case_is_answered_fast_with_djangos_headers_and_stored_like_any(
    org: Org, django_app: Counted
) -> None:
    key = api_key_create(name="fast")[1]
    app = signal_fast_path(django_app)
    first, second, third, again = post(
        app,
        [
            signal(key, external_id="f-1", budget=100, key="k1"),
            signal(key, external_id="f-2", budget=100, key="k2"),
            signal(key, external_id="f-3", budget=90000, key="k3"),  # the high-value rule
            signal(key, external_id="f-2", budget=100, key="k2"),  # a repeat
        ],
    )

    assert django_app.calls == 1  # Django answered the first (its headers were learned) only
    assert [r.status_code for r in (first, second, third, again)] == [202] * 4
    stored = {s.contact.external_id: s for s in Signal.objects.select_related("contact")}
    assert sorted(stored) == ["f-1", "f-2", "f-3"]
    assert second.json() == {"id": str(stored["f-2"].pk), "duplicate": False}
    assert again.json() == {"id": str(stored["f-2"].pk), "duplicate": True}
    assert Handoff.objects.get().contact.external_id == "f-3"  # rules ran before the 202
    assert stored["f-3"].api_key == ApiKey.objects.get(name="fast")

    def shown(response: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k != "content-length"}

    assert shown(second) == shown(first)
    assert first.headers["x-content-type-options"] == "nosniff"
    assert second.headers["content-length"] == str(len(second.content))


def test_every_other_answer_is_djangos(org: Org, django_app: Counted) -> None:
    key = api_key_create(name="fast")[1]
    gone, revoked = api_key_create(name="gone")
    api_key_revoke(keys=[gone])
    slow_key = api_key_create(name="slow", rate_limit_per_minute=1)[1]
    app = signal_fast_path(django_app)
    plain = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("unknown key", signal("bk_nope_nope"), 401, "Invalid or revoked API key."),
        ("revoked key", signal(revoked), 401, "Invalid or revoked API key."),
        ("no key", {"content": json.dumps(signal_body()), "headers": {}}, 401, ""),
        ("invalid signal", {"content": json.dumps({"type": "x"}), "headers": plain}, 400, ""),
        ("not JSON", {"content": "{nope", "headers": plain}, 400, ""),
        ("NaN", {"content": '{"budget": NaN}', "headers": plain}, 400, ""),
        ("a form", {"data": {"type": "x"}, "headers": {"Authorization": f"Bearer {key}"}}, 415, ""),
        ("key reused", signal(key, key="used", budget=5), 409, "different body"),
        ("rate", signal(slow_key, external_id="r-2", key="r2"), 429, "Too many requests"),
    ]
    # Learned, and the reused key and the rate set up: these are fast 202s.
    assert [r.status_code for r in post(app, [signal(key, key="used", budget=4)])] == [202]
    assert [r.status_code for r in post(app, [signal(slow_key, key="r1")])] == [202]
    calls = django_app.calls
    signals = Signal.objects.count()

    for name, request, status, detail in cases:
        (response,) = post(app, [request])
        assert response.status_code == status, (name, response.content)
        assert detail in response.json()["detail"], name
        assert django_app.calls == calls + 1, f"{name}: Django did not answer"
        calls += 1
    assert Signal.objects.count() == signals  # nothing refused was stored


def test_the_idempotency_header_and_a_query_string_go_to_django(
    org: Org, django_app: Counted
) -> None:
    key = api_key_create(name="fast")[1]
    app = signal_fast_path(django_app)
    header = signal(key, external_id="h-1")
    header["headers"]["Idempotency-Key"] = "hdr-1"
    query = signal(key, external_id="q-1")
    post(app, [signal(key, external_id="warm")])

    with_header, with_query = post(app, [header, {**query, "params": {"x": "1"}}])

    assert (with_header.status_code, with_query.status_code) == (202, 202)
    assert django_app.calls == 3
    assert Signal.objects.get(contact__external_id="h-1").idempotency_key == "hdr-1"
