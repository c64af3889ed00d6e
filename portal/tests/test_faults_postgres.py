"""Fault 3 (issue 8): stop PostgreSQL in the middle of an ingest — once cleanly (a fast
shutdown, ~14 s), once as a crash (immediate: recovery from the WAL, ~4 s) — and start it again.
Meanwhile every answer is a 202 or a clear 503 with Retry-After (never a 500, never a hang past
the pool's timeout); afterwards the server, the worker and beat recover by themselves (the pool
tests connections before lending them), nothing accepted is lost or doubled, and the backlog
drains.

CI runs a small size; BATON_SOAK=1 a longer one. Figures: docs/reliability.md "Faults"."""

from __future__ import annotations

import os
import re
import threading
import time

import httpx
import pytest

from portal.tests.stack import (
    SOAK,
    Stack,
    accepted_keys,
    assert_exactly_once,
    drain,
    ingest,
    logs_on_failure,
    signals_for,
    wait_for,
)
from portal.tests.stack import stack as stack  # the fixture

pytestmark = [pytest.mark.integration]

SIGNALS = int(os.environ.get("BATON_FAULTS_PG_SIGNALS", 4_000 if SOAK else 240))
OUTAGE_SECONDS = 20 if SOAK else 4
DRAIN_SECONDS = 600 if SOAK else 120
# The pool waits this long for a connection before the request gives up with a 503
# (portal/settings.py); an answer slower than this plus margin would be a hang.
POOL_TIMEOUT_SECONDS = 10


def test_postgres_stopped_and_crashed_during_an_ingest_answers_503_and_recovers(
    stack: Stack,
) -> None:
    prefix = f"pg{int(time.time())}-"
    bodies = signals_for(prefix, SIGNALS)
    outages: list[dict[str, float]] = []
    fault = threading.Lock()

    pages: list[httpx.Response] = []
    browser = httpx.Client(base_url=stack.url, timeout=30)
    login_form = browser.get("/accounts/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_form.text)
    assert csrf is not None

    def sign_in() -> None:
        form = {"username": "sam", "password": "faults-a-pass"}
        form["csrfmiddlewaretoken"] = csrf.group(1)
        pages.append(browser.post("/accounts/login/", data=form))

    def postgres_outage(mode: str) -> None:
        with fault:
            down = time.monotonic()
            stack.pg_stop(mode)
            if mode == "fast":
                # A person signing in meanwhile gets the outage page, not a 500 — once the
                # pool has waited its 10 s for a connection (this outage lasts that long).
                sign_in()
            time.sleep(OUTAGE_SECONDS)
            stack.pg_start()
            outages.append({"down": down, "up": time.monotonic()})

    faults: list[threading.Thread] = []

    def during(answered: int) -> None:
        for at, mode in ((SIGNALS // 4, "fast"), (SIGNALS // 2, "immediate")):
            if answered == at:
                faults.append(threading.Thread(target=postgres_outage, args=(mode,)))
                faults[-1].start()

    with logs_on_failure(stack):
        attempts = ingest(stack, bodies, batch=1, threads=4, during=during)
        for thread in faults:
            thread.join()
        assert len(outages) == 2
        assert [(p.status_code, p.headers.get("Retry-After")) for p in pages] == [(503, "5")]
        assert "briefly unavailable" in pages[0].text
        browser.close()

        by_status: dict[int | None, int] = {}
        for sent in attempts:
            by_status[sent.status] = by_status.get(sent.status, 0) + 1
        # 202 or 503 with Retry-After; no 500, no dropped connection.
        assert set(by_status) <= {202, 503}, by_status
        assert by_status.get(503, 0) > 0  # the outages were seen
        assert all(s.retry_after for s in attempts if s.status == 503)
        slowest = max(s.seconds for s in attempts)
        assert slowest < POOL_TIMEOUT_SECONDS + 10, slowest
        # Retried with the same keys, everything was accepted in the end.
        assert accepted_keys(attempts) == {body["idempotency_key"] for body in bodies}

        # Recovery without manual steps: the first 202 after each restart.
        recovery = [
            min((s.at for s in attempts if s.status == 202 and s.at > o["up"]), default=0.0)
            - o["up"]
            for o in outages
        ]
        assert httpx.get(f"{stack.url}/healthz", timeout=5).status_code == 200
        drain_started = time.monotonic()
        audit, drain_seconds = drain(stack, prefix, DRAIN_SECONDS)
        print(
            f"\npostgres stopped (fast, then immediate) for "
            f"{', '.join(f'{o["up"] - o["down"]:.0f}' for o in outages)} s during "
            f"{SIGNALS} signals: answers {by_status}, slowest answer {slowest:.1f} s, first 202 "
            f"{', '.join(f'{r:.1f}' for r in recovery)} s after each restart; backlog drained "
            f"{drain_started + drain_seconds - outages[-1]['up']:.0f} s after the last: "
            f"{audit.figures()}"
        )
        assert_exactly_once(audit, SIGNALS)

        # The worker and beat came through on their own: a new signal's email goes out.
        after = f"{prefix}after-"
        assert {s.status for s in ingest(stack, signals_for(after, 2), batch=1)} == {202}
        wait_for("a fresh email after the outages", lambda: _delivered(stack, after), 60)
        assert stack.worker.running and stack.beat.running and stack.server.running


def _delivered(stack: Stack, prefix: str) -> bool:
    audit = stack.audit(prefix)
    return audit.drained() and audit.emails_lost == 0 and audit.webhooks_lost == 0
