"""The real stack for the concurrency suites of issue 8: uvicorn (`--workers 2`, production
settings) and a Celery worker as separate processes on loopback, on pytest's PostgreSQL test
database and this suite's Redis, plus people's session cookies and a bounded asyncio HTTP client.

Ports come from BATON_LIVE_PORTS (default 9300-9399) so parallel runs on one machine never
collide. Every process is started in its own process group and killed with it, even on failure.
The rate limits of the server under test are switched off (`BATON_RATE_LIMIT_*=0`): a storm from
a few dozen people is exactly what they exist to stop, and they have their own tests
(portal/tests/test_ratelimit.py)."""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from handoffs.tests.e2e_support import database_url_for
from portal.celery import app

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 60.0
TWILIO_TOKEN = "live-twilio-token-0123456789abcdef"
PUBLIC_URL = "http://baton.test"


def soak() -> bool:
    """BATON_SOAK=1: the full sizes of issue 8 instead of CI's."""
    return os.environ.get("BATON_SOAK", "") not in ("", "0")


def needs_real_stack() -> None:
    if not os.environ.get("REDIS_URL"):
        pytest.skip("the live concurrency tests need REDIS_URL (a real Redis)")
    if connection.vendor != "postgresql":
        pytest.skip("the live concurrency tests need PostgreSQL (DATABASE_URL)")


def _port_range() -> range:
    low, _, high = os.environ.get("BATON_LIVE_PORTS", "9300-9399").partition("-")
    return range(int(low), int(high or low) + 1)


def free_port() -> int:
    """A port in this suite's range that nothing listens on right now."""
    ports = list(_port_range())
    start = secrets.randbelow(len(ports))
    for port in ports[start:] + ports[:start]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports[0]}-{ports[-1]}")


def kill_group(process: subprocess.Popen[Any] | None) -> None:
    """Stop a process we started and everything it forked (uvicorn's workers): TERM the group,
    wait, then KILL it."""
    if process is None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    # The leader may be gone while a child lingers: sweep the group once more.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def server_env(*, eager: bool) -> dict[str, str]:
    """Production settings on the test database and this run's Redis, limits lifted."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url_for(connection.settings_dict),
        "REDIS_URL": os.environ["REDIS_URL"],
        # The test process makes the session cookies; the server must check them with its key.
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,baton.test",
        "BATON_CELERY_EAGER": "true" if eager else "false",
        "BATON_EMBEDDED_TIMER": "false",
        "BATON_RATE_LIMIT_KEY_PER_MINUTE": "0",
        "BATON_RATE_LIMIT_USER_API_PER_MINUTE": "0",
        "BATON_RATE_LIMIT_USER_WRITES_PER_MINUTE": "0",
        # Two server processes and a worker share a machine with other test runs: stay small.
        "BATON_DB_POOL_MAX": "6",
        "BATON_EMAIL_BACKEND": "handoffs.channels.LocalBackend",
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "BATON_PUBLIC_URL": PUBLIC_URL,
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("DJANGO_ALLOW_ASYNC_UNSAFE", "CELERY_BROKER_URL"):
        env.pop(name, None)
    return env


@dataclass
class Process:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self, tail: int = 120) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(lines[-tail:])

    def full_log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(
                f"{self.name} exited with {self.process.returncode}:\n{self.log()}", pytrace=False
            )


def _spawn(name: str, command: list[str], env: dict[str, str]) -> Process:
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below; the child keeps its copy)
        prefix=f"baton-{name}-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed as one
    )
    log.close()
    return Process(name=name, process=process, log_path=Path(log.name))


@dataclass
class Server(Process):
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def server_errors(self) -> list[str]:
        """Tracebacks and 5xx lines the server logged."""
        return [
            line
            for line in self.full_log().splitlines()
            if "Traceback" in line or '" 50' in line or "Internal Server Error" in line
        ]


def start_server(*, eager: bool = False, workers: int = 2) -> Server:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "portal.serve",  # uvicorn, a listening socket per worker (README's production command)
        "portal.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--lifespan",
        "on",
        "--no-access-log",
        # Behind a proxy, as in production: the default 5 s idle timeout races a pooled client
        # connection on a loaded machine ("Server disconnected without sending a response").
        "--timeout-keep-alive",
        "120",
    ]
    spawned = _spawn("uvicorn", command, server_env(eager=eager))
    server = Server(
        name=spawned.name, process=spawned.process, log_path=spawned.log_path, port=port
    )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        server.alive()
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    kill_group(server.process)
    pytest.fail(f"uvicorn not healthy after {START_SECONDS:.0f} s:\n{server.log()}", pytrace=False)


@dataclass
class Worker(Process):
    node: str = ""
    queue: str = ""

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
        """Poll `check` until it is truthy; bounded, and never asserts on time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            result = check()
            if result:
                return result
            time.sleep(0.2)
        pytest.fail(f"timed out waiting for {what}\n--- worker ---\n{self.log()}", pytrace=False)


def wait_idle(worker: Worker, timeout: float = 60) -> None:
    """Until the worker has nothing queued or running (with late acks a running task stays in
    kombu's `unacked` hash): the test database is flushed after each test, and a task still
    querying would deadlock the TRUNCATE."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    quiet = 0

    def idle() -> bool:
        nonlocal quiet
        busy = client.llen(worker.queue) + client.hlen("unacked")
        quiet = 0 if busy else quiet + 1
        return quiet >= 3  # three polls in a row: nothing was about to be enqueued either

    try:
        worker.wait_for("the worker to go idle", idle, timeout)
    finally:
        client.close()


def start_worker(
    *, concurrency: int = 2, pool: str = "threads", env: dict[str, str] | None = None
) -> Worker:
    """A Celery worker on the default queue of this run's Redis database (the server enqueues
    there), with threads so two tasks of one kind really run at once (or `pool="prefork"`,
    production's default)."""
    run = secrets.token_hex(4)
    node = f"baton-live-{run}@{socket.gethostname()}"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "-l",
        "info",
        "-n",
        node,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    spawned = _spawn("celery", command, {**server_env(eager=False), **(env or {})})
    worker = Worker(
        name=spawned.name,
        process=spawned.process,
        log_path=spawned.log_path,
        node=node,
        queue=app.conf.task_default_queue or "celery",
    )
    worker.wait_for(
        "the worker to answer a ping",
        lambda: app.control.ping(destination=[node], timeout=1),
        START_SECONDS,
    )
    return worker


@contextlib.contextmanager
def tasks_to_broker() -> Iterator[None]:
    """Send this process's `.delay()` calls to the real broker instead of running them eagerly."""
    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.task_always_eager = False
    app.conf.broker_url = os.environ["REDIS_URL"]
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        for key, value in saved.items():
            app.conf[key] = value
        app._pool = None
        app.amqp._producer_pool = None


def clear_queue() -> None:
    """Drop what earlier runs left on this Redis database's default queue."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        queue = app.conf.task_default_queue or "celery"
        client.delete(queue, f"_kombu.binding.{queue}", "unacked", "unacked_index")
    finally:
        client.close()


@contextlib.contextmanager
def live(
    *, worker: bool = False, eager: bool = False, worker_concurrency: int = 2
) -> Iterator[tuple[Server, Worker | None]]:
    """The server (and optionally a worker) for one test; both stopped however the test ends,
    and their logs printed (captured in pytest's report) when it fails."""
    needs_real_stack()
    clear_queue()
    server: Server | None = None
    celery: Worker | None = None
    failed = False
    try:
        if worker:
            celery = start_worker(concurrency=worker_concurrency)
        server = start_server(eager=eager)
        yield server, celery
    except BaseException:
        failed = True
        for process in (server, celery):
            if process is not None:
                print(f"\n----- {process.name} ({process.log_path}) -----\n{process.log()}")
        raise
    finally:
        kill_group(server.process if server else None)
        kill_group(celery.process if celery else None)
        clear_queue()
        for process in (server, celery):
            if process is not None and not failed:  # a failure's logs stay for a look
                process.log_path.unlink(missing_ok=True)


# --- people and HTTP ------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """A signed-in person's cookies, as a browser holds them after logging in."""

    user_id: int
    username: str
    cookies: dict[str, str]
    csrf: str


def session_for(user: Any) -> Session:
    """A real session row for `user` (the server checks it like any login) and a CSRF secret."""
    client = Client()
    client.force_login(user)
    csrf = secrets.token_hex(16)  # 32 characters: Django accepts the unmasked secret
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    cookies[settings.CSRF_COOKIE_NAME] = csrf
    return Session(user_id=user.pk, username=user.get_username(), cookies=cookies, csrf=csrf)


@dataclass
class Answer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        import json

        return json.loads(self.body)


async def bounded(calls: list[Callable[[], Awaitable[Any]]], concurrency: int) -> list[Any]:
    """Run every call, at most `concurrency` at once, results in the calls' order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


def http_client(base_url: str, concurrency: int) -> httpx.AsyncClient:
    """One connection pool for many people: each request carries its own cookies, and the
    client keeps none (a shared jar would mix people up). Quiet: httpx logs every request."""
    client = httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(120.0),
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    client.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return client


async def post(
    client: httpx.AsyncClient,
    path: str,
    *,
    session: Session | None = None,
    json_body: Any = None,
    data: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    sent = dict(headers or {})
    if session is not None:
        sent["X-CSRFToken"] = session.csrf
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    response = await client.post(path, json=json_body, data=data, content=content, headers=sent)
    return Answer(status=response.status_code, body=response.text, headers=dict(response.headers))


def run(coroutine: Awaitable[Any]) -> Any:
    return asyncio.run(coroutine)  # type: ignore[arg-type]
