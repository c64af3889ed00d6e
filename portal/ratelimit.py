"""Rate limits: per API key (every API and Segment request it makes), per signed-in person on
the API, and per person on the portal's own writes (form and htmx posts, admin included).

Counting is django-ratelimit's fixed window (one counter per caller per minute, with a per-caller
offset so windows do not all end at once) on the `ratelimit` cache: Redis in production, where
`SET NX` + `INCRBY` make the count atomic across every process and machine; process memory in
embedded mode (one process, so still exact). A refused request is refused before any view or
service runs, so it stores nothing: 429 with `Retry-After` — the API's JSON error shape from the
DRF throttle, a page (or, for htmx, a toast) from the middleware.

If Redis cannot be reached the limiter lets requests through (logged, and not asked again for a
few seconds): an outage of the counter must not become an outage of ingestion."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django_ratelimit.core import get_usage
from rest_framework.exceptions import APIException, Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from portal.models import ApiKey

log = logging.getLogger("baton.security")

PERIOD_SECONDS = 60
COUNTER_RETRY_SECONDS = 5.0  # after a counter failure, let requests through this long
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Paths whose writes are counted elsewhere (the API's throttle) or are not a person's.
NOT_PORTAL_WRITES = ("/api/", "/v1/", "/chat/", "/accounts/logout/")

_counter_down_until = 0.0


@dataclass(frozen=True)
class Bucket:
    """Who is counted, and how much they may do per minute."""

    scope: str  # "key", "user-api", "user-write"
    ident: str
    limit: int
    what: str  # for the message: "this API key", "you"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    count: int
    retry_after: int  # seconds until the window resets


def hit(bucket: Bucket) -> Decision | None:
    """Count one request against `bucket`. None: not limited (no limit, or the counter is down)."""
    global _counter_down_until
    if bucket.limit <= 0 or time.monotonic() < _counter_down_until:
        return None
    # The database's name keeps two deployments (or test runs) sharing one Redis apart.
    ident = f"{connection.settings_dict.get('NAME')}:{bucket.ident}"
    try:
        usage = get_usage(
            None,
            group=f"baton.{bucket.scope}",
            key=lambda _group, _request: ident,
            rate=(bucket.limit, PERIOD_SECONDS),
            increment=True,
        )
    except Exception:  # redis.ConnectionError, TimeoutError…: fail open, loudly
        _counter_down_until = time.monotonic() + COUNTER_RETRY_SECONDS
        log.warning("rate limit counter unavailable; letting requests through", exc_info=True)
        return None
    if usage is None:
        return None
    return Decision(
        allowed=not usage["should_limit"],
        limit=usage["limit"],
        count=usage["count"],
        retry_after=max(1, int(usage["time_left"])),
    )


def key_limit(api_key: ApiKey) -> int:
    if api_key.rate_limit_per_minute is not None:
        return api_key.rate_limit_per_minute
    return settings.BATON_RATE_LIMIT_KEY_PER_MINUTE


def api_bucket(principal: Any) -> Bucket | None:
    if isinstance(principal, ApiKey):
        return Bucket("key", str(principal.pk), key_limit(principal), "this API key")
    if getattr(principal, "is_authenticated", False):
        limit = settings.BATON_RATE_LIMIT_USER_API_PER_MINUTE
        return Bucket("user-api", str(principal.pk), limit, "you")
    return None


def refusal_message(bucket: Bucket, decision: Decision) -> str:
    return (
        f"Too many requests: {bucket.what} may make {decision.limit} per minute. "
        f"Try again in {decision.retry_after} s."
    )


class RateLimited(Throttled):
    """DRF's 429 (its handler sets `Retry-After` from `wait`) with our own sentence only."""

    def __init__(self, *, wait: int, detail: str) -> None:
        APIException.__init__(self, detail)
        self.wait = wait


class ApiRateThrottle(BaseThrottle):
    """DRF's throttle hook (REST_FRAMEWORK's default): runs after authentication, before the
    view. The 429 carries `Retry-After` and `{"detail": ...}` through portal.errors."""

    def allow_request(self, request: Request, view: Any) -> bool:
        bucket = api_bucket(request.user)
        decision = hit(bucket) if bucket is not None else None
        if decision is None or decision.allowed:
            return True
        log.info(
            "rate limited %s %s %s=%s (%d/min)",
            request.method,
            request.path,
            bucket.scope,  # type: ignore[union-attr]
            bucket.ident,  # type: ignore[union-attr]
            decision.limit,
        )
        raise RateLimited(wait=decision.retry_after, detail=refusal_message(bucket, decision))  # type: ignore[arg-type]


class PortalWriteRateLimitMiddleware:
    """Counts a signed-in person's writes to the portal's pages and admin (not the API, which has
    its throttle, nor logging out). Over the limit: 429 and `Retry-After`; htmx requests get a
    toast aimed at `#toasts`, others a page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in SAFE_METHODS or request.path.startswith(NOT_PORTAL_WRITES):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        bucket = Bucket(
            "user-write", str(user.pk), settings.BATON_RATE_LIMIT_USER_WRITES_PER_MINUTE, "you"
        )
        decision = hit(bucket)
        if decision is None or decision.allowed:
            return self.get_response(request)
        log.info("rate limited %s %s user=%s", request.method, request.path, user.pk)
        return too_many_requests(request, bucket, decision)


def too_many_requests(request: HttpRequest, bucket: Bucket, decision: Decision) -> HttpResponse:
    message = (
        f"You have sent more than {decision.limit} changes this minute. "
        f"Try again in {decision.retry_after} s."
    )
    context = {"message": message, "retry_after": decision.retry_after}
    if request.headers.get("HX-Request") == "true":
        body = render_to_string("429.html#toast", context, request=request)
        response = HttpResponse(body, status=429)
        # htmx swaps a 429 only where base.html's htmx-config lets it (responseHandling); the
        # event lets any page react as well.
        response["HX-Retarget"] = "#toasts"
        response["HX-Reswap"] = "afterbegin"
    else:
        response = HttpResponse(render_to_string("429.html", context, request=request), status=429)
    response["Retry-After"] = str(decision.retry_after)
    return response
