"""The ASGI handler runs Django's middleware chain and the view in one crossing into the
request's thread (portal/asgi_handler.py), and answers exactly as Django's own handler does."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from asgiref import sync
from django.core.handlers.asgi import ASGIHandler

from portal.asgi_handler import SyncChainASGIHandler


def request(handler: ASGIHandler, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


@pytest.fixture
def crossings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of a sync function from the event loop, by name."""
    seen: list[str] = []
    original = sync.SyncToAsync.__call__

    async def counted(self: sync.SyncToAsync, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_request_enters_its_thread_once_for_middleware_and_view(crossings):
    answer = request(SyncChainASGIHandler(), "GET", "/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    # The request signals (request_started, then closing the response) and the chain itself.
    assert len(crossings) == 3, crossings
    crossings.clear()
    request(ASGIHandler(), "GET", "/healthz")
    assert len(crossings) > 3  # Django's async chain: what this handler saves


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("GET", "/healthz", {}, b""),
        ("GET", "/api/v1/handoffs/", {}, b""),  # no credentials: 401 or 403
        ("GET", "/api/v1/no-such-thing/", {}, b""),
        ("POST", "/api/v1/signals/", {"Content-Type": "text/plain"}, b"x"),
        ("GET", "/inbox/", {}, b""),  # a page: redirected to log in
        ("POST", "/accounts/login/", {}, b"username=x"),  # no CSRF token
    ],
)
def test_answers_as_djangos_own_handler(method, path, headers, body):
    ours = request(SyncChainASGIHandler(), method, path, headers=headers, content=body)
    theirs = request(ASGIHandler(), method, path, headers=headers, content=body)
    assert ours.status_code == theirs.status_code
    assert ours.headers.get("content-type") == theirs.headers.get("content-type")
    assert ours.headers.get("location") == theirs.headers.get("location")
    if "json" in (theirs.headers.get("content-type") or ""):
        assert ours.json() == theirs.json()


@pytest.mark.django_db(transaction=True)
def test_a_client_error_is_still_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        answer = request(SyncChainASGIHandler(), "GET", "/api/v1/no-such-thing/")
    assert answer.status_code == 404
    assert any("/api/v1/no-such-thing/" in r.getMessage() for r in caplog.records)
