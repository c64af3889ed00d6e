"""Helpers for the real-browser tests: the ASGI server as a subprocess on the pytest test
database, signals sent the way integrations send them, and a console watcher.

Why a subprocess: pytest-django's live_server is WSGI only (no websockets), and Channels' own
live-server test case forks, which broke once other tests had used channels (STACK-NOTES)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 30.0
MAIL_DIR = ARTIFACTS / "e2e-mail"  # the live server's email, one file per connection


def why_no_browser_run() -> str | None:
    """The reason the e2e tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return f"e2e needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
    if not os.environ.get("REDIS_URL"):
        return "e2e needs REDIS_URL: the server's channel layer must be Redis (a real server)"
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return "e2e needs DATABASE_URL on PostgreSQL: the server shares pytest's test database"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "e2e needs the playwright package (pip install -e '.[dev]')"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url_for(settings_dict: dict[str, Any]) -> str:
    """A DATABASE_URL for the database pytest-django created (usually test_<name>), for server
    and worker subprocesses that must see the test's committed rows."""
    auth = quote(settings_dict.get("USER") or "", safe="")
    if settings_dict.get("PASSWORD"):
        auth += ":" + quote(settings_dict["PASSWORD"], safe="")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


def stop_process(process: subprocess.Popen[Any] | None) -> None:
    """Terminate, wait, then kill: no server or worker outlives its test."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class LiveServer:
    """uvicorn serving portal.asgi (HTTP + websockets, production settings) on a free port."""

    database_url: str
    redis_url: str
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": "e2e",
            "BATON_CELERY_EAGER": "true",  # replies deliver in the request: no worker needed
            # Email is written to files here; the SMTP path has its own tests against a real
            # local SMTP server (handoffs/tests/test_email_channel.py).
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(MAIL_DIR),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "portal.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--lifespan",
            "on",
        ]
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()  # the child holds its own handle
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode} while starting:\n{self.log()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
                    last_error = f"status {response.status}"
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                last_error = repr(exc)
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"server not healthy after {SERVER_START_SECONDS:.0f} s ({last_error}):\n{self.log()}"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process(process)

    def log(self, tail: int = 200) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no server log)"
        return "\n".join(lines[-tail:])

    @contextlib.contextmanager
    def log_on_failure(self, *watches: ConsoleWatch) -> Iterator[None]:
        """Print the server's output and what each browser saw (captured in pytest's report)
        if the block fails."""
        try:
            yield
        except BaseException:
            print(f"\n----- server log ({self.log_path}) -----\n{self.log()}\n-----")
            for watch in watches:
                print(watch.report())
            raise


def post_json(url: str, body: dict[str, Any], *, api_key: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 (a URL we built: http://127.0.0.1)
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def set_server_password(users: list[Any], password: str) -> None:
    """Test settings hash with MD5 for speed; the server runs production settings, which do not
    accept MD5 hashes. Store a PBKDF2 hash the server can check (fewer rounds: it is a test)."""

    class QuickPBKDF2(PBKDF2PasswordHasher):
        iterations = 1000

    encoded = make_password(password, hasher=QuickPBKDF2())
    for user in users:
        type(user).objects.filter(pk=user.pk).update(password=encoded)


# Console messages of type "error" that say nothing about our pages.
HARMLESS_CONSOLE = (
    # Closing a page or navigating away while the live socket is open.
    re.compile(r"WebSocket connection to .* failed: .*(closed before|1001|Going Away)", re.I),
    re.compile(r"WebSocket is already in CLOSING or CLOSED state", re.I),
)


@dataclass
class ConsoleWatch:
    """What one page did: console errors, uncaught page errors and failed same-origin responses
    (the test asserts there are none), its Claim posts and their answers, and its live socket
    (opens, closes and every frame, printed when a test fails)."""

    name: str
    errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    claim_posts: list[str] = field(default_factory=list)
    claim_answers: list[Any] = field(default_factory=list)
    socket_log: list[str] = field(default_factory=list)
    sockets_opened: int = 0
    sockets_closed: int = 0
    frames_received: int = 0
    frames: list[str] = field(default_factory=list)

    def attach(self, page: Any, origin: str) -> None:
        def on_console(message: Any) -> None:
            if message.type == "error" and not any(
                p.search(message.text) for p in HARMLESS_CONSOLE
            ):
                self.errors.append(f"console: {message.text} @ {message.location}")

        def on_page_error(error: Any) -> None:
            self.errors.append(f"pageerror: {error}")

        def on_response(response: Any) -> None:
            if response.url.startswith(origin) and response.status >= 400:
                self.bad_responses.append(
                    f"{response.status} {response.request.method} {response.url}"
                )

        def on_request(request: Any) -> None:
            if request.method == "POST" and request.url.endswith("/claim/"):
                self.claim_posts.append(request.url)

        def on_request_finished(request: Any) -> None:
            if request.method == "POST" and request.url.endswith("/claim/"):
                self.claim_answers.append(request.response())

        def on_websocket(socket: Any) -> None:
            started = time.monotonic()

            def note(what: str) -> None:
                self.socket_log.append(f"{time.monotonic() - started:6.2f}s {what}")

            def on_frame(frame: Any) -> None:
                self.frames_received += 1
                self.frames.append(
                    frame if isinstance(frame, str) else frame.decode(errors="replace")
                )
                note(f"<- {str(frame)[:160]!r}")

            def on_close(_socket: Any) -> None:
                self.sockets_closed += 1
                note("closed")

            self.sockets_opened += 1
            note(f"open {socket.url}")
            socket.on("framereceived", on_frame)
            socket.on("close", on_close)
            socket.on("socketerror", lambda error: note(f"error {error}"))

        page.on("console", on_console)
        page.on("pageerror", on_page_error)
        page.on("response", on_response)
        page.on("request", on_request)
        page.on("requestfinished", on_request_finished)
        page.on("websocket", on_websocket)

    def report(self) -> str:
        """What this browser saw, for a failure report."""
        return "\n".join(
            [
                f"--- {self.name}: problems",
                *self.problems(),
                f"--- {self.name}: live socket",
                *self.socket_log,
            ]
        )

    def problems(self) -> list[str]:
        return [f"[{self.name}] {p}" for p in [*self.errors, *self.bad_responses]]


def csp_violations(watches: list[ConsoleWatch]) -> list[str]:
    pattern = re.compile(r"Content Security Policy|Refused to (load|execute|apply|connect)", re.I)
    return [p for w in watches for p in w.problems() if pattern.search(p)]


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    try:
        # caret="initial": hiding the caret leaves style="" on fields, which htmx then copies.
        page.screenshot(path=str(path), full_page=True, caret="initial")
    except Exception:  # a screenshot must never hide the real failure
        traceback.print_exc()
    return path


def clear_artifacts(prefix: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob(f"{prefix}*"):
        if old.is_file():
            old.unlink()
        elif old.is_dir():
            shutil.rmtree(old)


# ---- fixtures shared by the browser test modules (import them by name) -------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread from here on; the ORM would refuse
    # to run in it (SynchronousOnlyOperation). The e2e tests run last, so this is contained.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    clear_artifacts("e2e-")
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture
def server(transactional_db: Any, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A fresh server per test. One server across tests goes wrong: the flush between
    transactional tests recreates content types and permissions under new ids, and a running
    process keeps the old ContentType ids cached, so guardian would find no teams for anyone."""
    from django.db import connection

    live = LiveServer(
        database_url=database_url_for(connection.settings_dict),
        redis_url=os.environ["REDIS_URL"],
        log_path=ARTIFACTS / f"e2e-server-{request.node.name[:60]}.log",
    ).start()
    try:
        yield live
    finally:
        live.stop()
