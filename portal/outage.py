"""The database unreachable (stopped, restarting, pool exhausted) is an outage, not a bug: every
request that meets it answers 503 with Retry-After — JSON on the API, a short page elsewhere —
instead of a 500, so integrations retry (a signal is idempotent by its key) and nothing half-done
was committed (the transaction rolled back with the connection).

Three places see such an error, and each hands it here: DRF's exception handler (API views,
authentication included), `OutageMiddleware.process_exception` (other views), and the 500
handler (errors raised in middleware, e.g. saving a session). The connection pool replaces broken
connections by itself, so service resumes without a restart once PostgreSQL is back."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

log = logging.getLogger("baton.outage")

RETRY_AFTER_SECONDS = 5
RETRY_HEADERS = {"Retry-After": str(RETRY_AFTER_SECONDS)}
DETAIL = "The service is briefly unavailable (database unreachable). Retry shortly."
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Baton is briefly unavailable</title>
<meta http-equiv="refresh" content="{seconds}"></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto">
<h1>Baton is briefly unavailable</h1>
<p>We can't reach the database right now. This page tries again in {seconds} seconds;
nothing you sent was half-saved.</p></body></html>"""


def is_outage(exc: BaseException | None) -> bool:
    """Django's wrapped OperationalError/InterfaceError, or psycopg's own (the pool's
    PoolTimeout is one) when raised outside Django's wrapper."""
    if exc is None:
        return False
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    try:
        import psycopg
    except ImportError:  # SQLite-only installs
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def outage_log(request: HttpRequest | None, exc: BaseException) -> None:
    method, path = getattr(request, "method", "-"), getattr(request, "path", "-")
    log.warning("503 for %s %s: database unavailable (%s)", method, path, exc)


def outage_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    outage_log(request, exc)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": DETAIL}, status=503)
    else:
        response = HttpResponse(PAGE.format(seconds=RETRY_AFTER_SECONDS), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def current_outage_response(request: HttpRequest) -> HttpResponse | None:
    """For the 500 handler, which runs inside Django's `except` block: a 503 if what is being
    handled is an outage, else None."""
    exc = sys.exc_info()[1]
    return outage_response(request, exc) if exc is not None and is_outage(exc) else None


def retry_while_unreachable[T](record: Callable[[], T], *, until: datetime) -> T:
    """Run `record` (a write after something irrevocable, e.g. a send the receiver accepted)
    again while the database is unreachable, until the caller's lease expires at `until`: an
    outage then costs a wait, not a second send. Past the lease the sweep may hand the work to
    another worker, so that is the bound; one try past it is harmless, as callers write with a
    compare-and-swap on their lease."""
    pause = 0.5
    while True:
        try:
            return record()
        except (OperationalError, InterfaceError) as exc:
            left = (until - timezone.now()).total_seconds()
            if left <= 0:
                raise
            pause = min(pause, left)
            log.warning("database unreachable (%s); recording again in %.1f s", exc, pause)
            connection.close()  # the next try takes a fresh connection from the pool
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


class OutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return outage_response(request, exception) if is_outage(exception) else None
