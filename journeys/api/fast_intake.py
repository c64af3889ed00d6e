"""`POST /api/v1/signals/` answered without Django's per-request machinery, for the common case.

Through Django a request costs a thread hop, twelve middlewares, DRF's negotiation and a
serializer: about 2–3 ms of CPU before the view, which is most of a signal's cost once signals
share a transaction (portal/groupcommit.py). This ASGI layer answers the request that is plainly
fine — JSON, a bearer key, a signal the plain-Python validator accepts (fast_validation.py) —
from the event loop: the committer authenticates the key, counts it against its rate limit and
stores the signal with whatever else arrived at the same moment, and the loop awaits the outcome
holding no thread.

Everything else goes to Django untouched (the body is replayed), and so does every answer other
than a 202: an unknown key, a refused rate, a reused idempotency key, invalid input. A database
outage is answered here as portal/outage.py answers it (503, Retry-After). Django words the
rest exactly as documented, so the API is the same either way. The 202's
headers are the ones Django's own last 202 on this path carried (security headers included),
learned per scheme; until Django has answered one, requests go through Django."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from journeys.api.fast_validation import signal_fast
from journeys.ingestion import Accepted, body_hash, signal_ingest_fast
from portal.outage import DETAIL, RETRY_AFTER_SECONDS, is_outage, outage_log

log = logging.getLogger(__name__)

PATH = "/api/v1/signals/"
JSON_TYPES = {b"application/json", b"application/json; charset=utf-8"}

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def signal_fast_path(django: App) -> App:
    learned: dict[bool, list[tuple[bytes, bytes]]] = {}  # secure? → Django's 202 headers

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == PATH
            and settings.BATON_INGEST_GROUP_COMMIT
        ):
            return await django(scope, receive, send)
        headers = dict(scope["headers"])
        body, whole = await _read(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        replay = _replaying(body, whole, receive)
        secure = _secure(scope, headers)
        plan = _plan(scope, headers, body, secure) if whole and secure in learned else None
        if plan is not None:
            raw_key, data, raw = plan
            try:
                outcome = await asyncio.wrap_future(
                    signal_ingest_fast(raw_key=raw_key, data=data, raw_hash=body_hash(raw))
                )
            except Exception as exc:
                if is_outage(exc):  # as portal/outage.py answers it; the client retries
                    outage_log(SimpleNamespace(method="POST", path=PATH), exc)
                    retry = (b"retry-after", str(RETRY_AFTER_SECONDS).encode())
                    return await _answer(send, 503, [*learned[secure], retry], {"detail": DETAIL})
                log.exception("fast signal intake failed; Django answers instead")
                outcome = None
            if isinstance(outcome, Accepted):
                body_out = {"id": str(outcome.id), "duplicate": outcome.duplicate}
                return await _answer(send, 202, learned[secure], body_out)

        async def learning_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 202:
                learned[secure] = [
                    (name, value)
                    for name, value in message["headers"]
                    if name.lower() not in (b"content-length", b"set-cookie")
                ]
            await send(message)

        return await django(scope, replay, learning_send)

    return app


async def _answer(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: dict[str, Any]
) -> None:
    content = json.dumps(body, separators=(",", ":")).encode()
    length = (b"content-length", str(len(content)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": content})


async def _read(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body, and whether it is all there: reading stops past `limit` (Django refuses it)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def _replaying(body: bytes, whole: bool, receive: Receive) -> Receive:
    """A receive that hands Django the body already read, then the rest of the stream."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not whole}
        return await receive()

    return replay


def _secure(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """What Django's request.is_secure() would say."""
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name, value = proxy
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        if header in headers:
            return headers[header].decode("latin-1").split(",")[0].strip() == value
    return scope.get("scheme") == "https"


def _plan(
    scope: Scope, headers: dict[bytes, bytes], body: bytes, secure: bool
) -> tuple[str, dict[str, Any], Any] | None:
    """(bearer key, validated signal, raw body) when this is the plain case; None: Django."""
    if scope.get("query_string") or b"idempotency-key" in headers:
        return None
    if len(headers) != len(scope["headers"]):  # a repeated header: Django decides what it means
        return None
    if headers.get(b"content-type", b"").lower() not in JSON_TYPES:
        return None
    if settings.SECURE_SSL_REDIRECT and not secure:
        return None
    if settings.USE_X_FORWARDED_HOST and b"x-forwarded-host" in headers:
        return None
    domain, _port = split_domain_port(headers.get(b"host", b"").decode("latin-1"))
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme, _, raw_key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not raw_key.strip():
        return None
    try:
        raw = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return None
    data = signal_fast(raw)
    if data is None:
        return None
    return raw_key.strip(), data, raw


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # as DRF's parser: NaN and Infinity are refused
