"""`manage.py simulate`: realistic signals and replies, sent over HTTP to a running server with an
integration key, so the demo inbox comes alive. It never touches the database itself."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import secrets
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from portal.simulation import BATCH_PATH, INBOUND_PATH, Event, Scenario

REQUEST_TIMEOUT_SECONDS = 15.0
MAX_BATCH = 1000
ERROR_BODY_CHARS = 300


@dataclass
class Tally:
    """What happened to the events sent so far (guarded by the simulator's lock)."""

    sent: int = 0  # events whose request has finished, however it went
    sent_signals: int = 0
    sent_replies: int = 0
    requests: int = 0  # HTTP requests made (a batch is one)
    signals: int = 0  # new signals the server accepted
    replies: int = 0  # new inbound messages the server accepted
    duplicates: int = 0
    contacts: set[str] = field(default_factory=set)  # contacts of accepted events
    errors: Counter[str] = field(default_factory=Counter)  # events by status (or failure)
    first_error: dict[str, str] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.signals + self.replies

    def fail(self, events: list[Event], status: str, body: str) -> None:
        self.errors[status] += len(events)
        self.first_error.setdefault(status, body[:ERROR_BODY_CHARS])


def workers_for(rate: float) -> int:
    """Threads (and connections) enough to keep the offered rate with requests taking ~2 s."""
    return min(256, math.ceil(rate * 2) + 8)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class Simulator:
    """Sends `scenario`'s events at `rate` per second for `duration` seconds, paced by the wall
    clock: each event is due at start + i / rate, whatever earlier requests took, and requests
    run on a thread pool so a slow server does not lower the offered rate."""

    def __init__(
        self,
        *,
        client: httpx.Client,
        scenario: Scenario,
        rate: float,
        duration: float,
        batch: int | None,
    ) -> None:
        self.client = client
        self.scenario = scenario
        self.rate = rate
        self.total = math.ceil(rate * duration)
        self.batch = batch
        self.tally = Tally()
        self.lock = threading.Lock()
        self.interrupted = False
        self.elapsed = 0.0
        self.progress: tqdm[Any] | None = None

    def run(self) -> Tally:
        pool = ThreadPoolExecutor(max_workers=workers_for(self.rate), thread_name_prefix="simulate")
        self.progress = tqdm(
            total=self.total, unit="event", desc="simulate", file=sys.stderr, disable=None
        )
        start = time.monotonic()
        pending: list[Event] = []
        try:
            for index in range(self.total):
                delay = start + index / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                with self.lock:
                    event = self.scenario.next_event()
                if self.batch and event.is_signal:
                    pending.append(event)
                    if len(pending) >= self.batch:
                        pool.submit(self._send, pending)
                        pending = []
                else:
                    pool.submit(self._send, [event])
            if pending:
                pool.submit(self._send, pending)
        except KeyboardInterrupt:
            self.interrupted = True  # requests not yet started are dropped, not counted
        finally:
            pool.shutdown(wait=True, cancel_futures=self.interrupted)
            self.elapsed = time.monotonic() - start
            self.progress.close()
        return self.tally

    def _send(self, events: list[Event]) -> None:
        if events[0].path == INBOUND_PATH or not self.batch:  # replies always go alone
            path, body = events[0].path, events[0].body
        else:
            path, body = BATCH_PATH, {"signals": [event.body for event in events]}
        started = time.monotonic()
        try:
            response = self.client.post(path, json=body)
        except httpx.HTTPError as exc:
            with self.lock:
                self.tally.requests += 1
                self.tally.fail(events, type(exc).__name__, str(exc) or repr(exc))
                self._count_sent(events)
            return
        latency = time.monotonic() - started
        with self.lock:
            self.tally.requests += 1
            self.tally.latencies.append(latency)
            if not response.is_success:
                self.tally.fail(events, str(response.status_code), response.text)
            elif path == BATCH_PATH:
                self._batch_answer(events, response)
            else:
                self._single_answer(events[0], response)
            self._count_sent(events)

    def _single_answer(self, event: Event, response: httpx.Response) -> None:
        if _json(response).get("duplicate"):
            self.tally.duplicates += 1
        elif event.path == INBOUND_PATH:
            self.tally.replies += 1
        else:
            self.tally.signals += 1
        self._accepted(event)

    def _batch_answer(self, events: list[Event], response: httpx.Response) -> None:
        answer = _json(response)
        self.tally.signals += int(answer.get("accepted", 0))
        self.tally.duplicates += int(answer.get("duplicates", 0))
        rejected: dict[int, Any] = {}
        for item in answer.get("errors", []):
            rejected[int(item.get("index", -1))] = item.get("errors")
        for index, event in enumerate(events):
            if index in rejected:
                self.tally.fail([event], "batch item", json.dumps(rejected[index]))
            else:
                self._accepted(event)

    def _accepted(self, event: Event) -> None:
        self.tally.contacts.add(event.contact_id)
        self.scenario.confirm(event)

    def _count_sent(self, events: list[Event]) -> None:
        signals = sum(1 for event in events if event.is_signal)
        self.tally.sent += len(events)
        self.tally.sent_signals += signals
        self.tally.sent_replies += len(events) - signals
        if self.progress is not None:
            self.progress.update(len(events))
            self.progress.set_postfix(
                accepted=self.tally.accepted, errors=sum(self.tally.errors.values()), refresh=False
            )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value!r}")
    return number


class Command(BaseCommand):
    help = (
        "Send realistic signals and replies over HTTP to a running Baton server, with an "
        "integration API key, so the demo inbox comes alive."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="The server (default %(default)s)."
        )
        parser.add_argument(
            "--key", default="", help="Integration API key (default: $BATON_API_KEY)."
        )
        parser.add_argument(
            "--rate", type=positive_float, default=5.0, help="Events per second (default 5)."
        )
        parser.add_argument(
            "--duration", type=positive_float, default=60.0, help="Seconds to run (default 60)."
        )
        parser.add_argument("--seed", type=int, default=None, help="Seed for a repeatable mix.")
        parser.add_argument(
            "--batch",
            type=int,
            default=None,
            help=f"Send signals through /signals/batch/ in batches of this many (1-{MAX_BATCH}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key = options["key"] or os.environ.get("BATON_API_KEY", "")
        if not key:
            raise CommandError(
                "No API key: pass --key or set BATON_API_KEY "
                "(`python manage.py create_api_key simulator` prints one)."
            )
        batch = options["batch"]
        if batch is not None and not 1 <= batch <= MAX_BATCH:
            raise CommandError(f"--batch must be between 1 and {MAX_BATCH}.")
        url = options["url"].rstrip("/")
        for noisy in ("httpx", "httpcore"):  # a log line per request would bury the progress bar
            logging.getLogger(noisy).setLevel(logging.WARNING)
        rate, duration = options["rate"], options["duration"]
        run_id = secrets.token_hex(4)  # not from the seed: two runs must never collide
        workers = workers_for(rate)
        client = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {key}", "User-Agent": "baton-simulate"},
            timeout=REQUEST_TIMEOUT_SECONDS,
            limits=httpx.Limits(max_connections=workers, max_keepalive_connections=workers),
        )
        with client:
            try:
                client.get("/healthz")
            except httpx.HTTPError as exc:
                raise CommandError(
                    f"Cannot reach {url} ({type(exc).__name__}): is the server running at {url}?"
                ) from None
            seed = "" if options["seed"] is None else f", seed {options['seed']}"
            self.stdout.write(
                f"Run {run_id}{seed}: {rate:g} events/s for {duration:g} s to {url} (Ctrl-C stops)."
            )
            simulator = Simulator(
                client=client,
                scenario=Scenario(run_id=run_id, seed=options["seed"]),
                rate=rate,
                duration=duration,
                batch=batch,
            )
            tally = simulator.run()
        self._summary(run_id, simulator, tally)
        if tally.sent and not tally.accepted and not tally.duplicates:
            status, count = tally.errors.most_common(1)[0]
            raise CommandError(f"Nothing was accepted ({status} × {count}); see the summary.")

    def _summary(self, run_id: str, simulator: Simulator, tally: Tally) -> None:
        elapsed = max(simulator.elapsed, 1e-9)
        errors = sum(tally.errors.values())
        lines = [
            f"Run {run_id} {'interrupted' if simulator.interrupted else 'finished'} "
            f"after {simulator.elapsed:.1f} s.",
            f"  sent        {tally.sent} events ({tally.sent_signals} signals, "
            f"{tally.sent_replies} replies) in {tally.requests} requests",
            f"  accepted    {tally.accepted} ({tally.signals} signals, {tally.replies} replies)"
            f" for {len(tally.contacts)} contacts",
            f"  duplicates  {tally.duplicates}",
            f"  errors      {errors}",
        ]
        for status, count in sorted(tally.errors.items()):
            lines.append(f"    {status} × {count}: {tally.first_error[status]}")
        lines += [
            f"  rate        {tally.sent / elapsed:.1f} events/s achieved "
            f"({simulator.rate:g}/s offered)",
            f"  latency     p50 {percentile(tally.latencies, 0.5) * 1000:.0f} ms, "
            f"p95 {percentile(tally.latencies, 0.95) * 1000:.0f} ms",
        ]
        self.stdout.write("\n".join(lines))
