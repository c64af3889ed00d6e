"""What every scenario shares: arguments, Django set-up, seeding people and keys, an asyncio
HTTP/1.1 keep-alive client, percentiles and the one-JSON-line result (bench/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


# --- arguments and output -------------------------------------------------------------------------


@dataclass(frozen=True)
class Args:
    size: str
    runs: int
    url: str
    host: str
    port: int

    @property
    def full(self) -> bool:
        return self.size == "full"


def parse_args(description: str) -> Args:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", default="http://127.0.0.1:8100")
    raw = parser.parse_args()
    if raw.runs < 1:
        parser.error("--runs must be ≥ 1")
    url = urlparse(raw.url)
    return Args(
        size=raw.size,
        runs=raw.runs,
        url=raw.url.rstrip("/"),
        host=url.hostname or "127.0.0.1",
        port=url.port or 80,
    )


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0–100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n·p/100), at least the first
    return ordered[int(min(rank, len(ordered))) - 1]


def figure(
    name: str,
    runs: list[float],
    unit: str,
    budget: float | None = None,
    op: str | None = None,
) -> dict[str, Any]:
    """One reported figure: the median of the runs, judged against the budget by the runner."""
    if (budget is None) != (op is None) or op not in (None, "<", "<=", ">", ">="):
        raise ValueError(f"{name}: budget and op ('<', '<=', '>' or '>=') go together")
    rounded = [round(float(v), 2) for v in runs]
    return {
        "name": name,
        "value": round(statistics.median(rounded), 2),
        "unit": unit,
        "budget": budget,
        "op": op,
        "runs": rounded,
    }


def emit(scenario: str, figures: list[dict[str, Any]], notes: str = "") -> None:
    """The scenario's result: ONE JSON object on the last line of stdout."""
    sys.stdout.flush()
    print(json.dumps({"scenario": scenario, "figures": figures, "notes": notes}), flush=True)


# --- Django ---------------------------------------------------------------------------------------


def django_setup() -> None:
    """The stack's own settings (portal.settings, from the environment the runner gives)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def run_tag() -> str:
    return uuid.uuid4().hex[:8]


def api_key(name: str) -> str:
    """A fresh integration key without a rate limit of its own (0 = no limit)."""
    from portal.services import api_key_create

    _, raw = api_key_create(name=name, can_read_handoffs=True, rate_limit_per_minute=0)
    return raw


def team_with_people(slug: str, count: int, role: str = "rep") -> tuple[Any, list[Any]]:
    """A manual-assignment team and `count` members (no passwords: sessions are made directly,
    so seeding does not spend half a second hashing each one)."""
    from django.contrib.auth import get_user_model

    from portal.models import Team
    from portal.services import membership_set

    team = Team.objects.create(slug=slug, name=slug.replace("-", " ").title())
    users = []
    for n in range(count):
        user = get_user_model().objects.create_user(
            username=f"{slug}-{n}", password=None, first_name="Bench", last_name=f"Rep {n}"
        )
        membership_set(user=user, team=team, role=role)
        users.append(user)
    return team, users


def always_rule(*, team: Any, signal_type: str, name: str) -> Any:
    """A rule that raises a handoff for every signal of `signal_type`, in `team`'s pool."""
    from handoffs.choices import Priority, Trigger
    from journeys.models import HandoffRule

    return HandoffRule.objects.create(
        name=name,
        signal_type=signal_type,
        condition={"all": []},
        trigger=Trigger.STAGE,
        team=team,
        offer_to_role="",
        priority=Priority.HIGH,
        reason_template=f"Bench: {signal_type}",
    )


def session_cookie(user: Any) -> str:
    """A logged-in session for `user`, as a browser holds after /accounts/login/."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def close_db() -> None:
    """Give connections back before long async phases (the ORM is not used from the loop)."""
    from django.db import connections

    connections.close_all()


# --- load -----------------------------------------------------------------------------------------


def signal(n: int, run: str) -> dict[str, Any]:
    """The realistic mix: about 2% declare a budget ≥ 50,000, so the demo's rule raises a handoff
    (and journeys enroll the contact), as in production."""
    budget = 75000 if random.random() < 0.02 else random.randint(100, 20000)
    return {
        "type": "form_submitted",
        "idempotency_key": f"{run}-{n}",
        "contact": {
            "external_id": f"bench-{n % 20000}",
            "name": f"Bench Contact {n % 20000}",
            "email": f"bench{n % 20000}@example.com",
        },
        "account": {"external_id": f"acct-{n % 2000}", "name": f"Account {n % 2000}"},
        "properties": {"budget": budget, "currency": "GBP", "form": "pricing"},
    }


class Http:
    """One keep-alive HTTP/1.1 connection (a load tool would add its own overhead and threads;
    this stays a single asyncio task per connection)."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self.headers = {"Host": f"{host}:{port}", **(headers or {})}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Http:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one request and read its answer. A kept-alive connection the server closed
        while idle (uvicorn: after 5 s) is reopened and the request sent again, once."""
        if self.reader is None or self.writer is None:
            await self.__aenter__()
        try:
            return await self._exchange(method, path, body, headers)
        except (ConnectionError, asyncio.IncompleteReadError):
            if self.writer is not None:
                self.writer.close()
            await self.__aenter__()
            return await self._exchange(method, path, body, headers)

    async def _exchange(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None
    ) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        data = b"" if body is None else json.dumps(body).encode()
        head = {**self.headers, **(headers or {}), "Content-Length": str(len(data))}
        if body is not None:
            head["Content-Type"] = "application/json"
        lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{lines}\r\n".encode() + data)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        length, chunked, closing = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                closing = True
        if chunked:
            payload = b""
            while (size := int((await self.reader.readline()).split(b";")[0], 16)) > 0:
                payload += await self.reader.readexactly(size)
                await self.reader.readline()
            await self.reader.readline()
        else:
            payload = await self.reader.readexactly(length)
        if closing:
            self.writer.close()
            self.reader = self.writer = None
        return int(status_line.split()[1]), payload


async def wait_until(check: Any, timeout: float, interval: float = 0.2) -> bool:
    """Poll a synchronous check (e.g. an ORM count in a thread) until it is true or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return True
        await asyncio.sleep(interval)
    return bool(await asyncio.to_thread(check))
