"""The real stack as separate processes on loopback, each startable, stoppable and killable, for
the fault suites (test_faults_*.py, docs/reliability.md "Faults").

- PostgreSQL: a throwaway cluster of its own (initdb into a temp dir as the `postgres` user, port
  55433), so stopping or crashing it never disturbs the main test database.
- Redis: its own redis-server (port 6391, no persistence: a restart loses everything in it).
- The ASGI server (uvicorn, production settings `portal.settings`, `--workers 2`), a Celery worker
  and Celery beat, all on that PostgreSQL and Redis.
- Receivers in the test process: an SMTP server (aiosmtpd) and a webhook subscriber (HTTP), each
  counting what arrives per message / delivery id, so a duplicate send is seen on the wire.

Every process runs in a session of its own and is stopped by its process group; the pids are
also written to a state file, so a run that was itself killed has its leftovers stopped by the
next run (only processes this harness started, by pid). `python -m portal.tests.stack seed`
is what the harness runs to create the small organisation (it prints JSON)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PG_PORT = 55433
REDIS_PORT = 6391
REDIS_DB = 11
SERVER_PORT = 9100
SMTP_PORT = 9101
WEBHOOK_PORT = 9102
DB_NAME = "baton_fa"
DB_USER = "baton"
DB_PASSWORD = "baton"
STATE_FILE = Path(tempfile.gettempdir()) / "baton-faults-a-stack.json"
SWEEP_SECONDS = 2  # beat's sweeps; production runs them every 15 s
OUTBOX_LEASE_SECONDS = 40  # a killed worker's outbox lease expires this soon (production 120 s)
OUTBOUND_TIMEOUT_SECONDS = 5  # webhook lease = 2 x this + 30 s (portal/integrations/outbound.py)
SOAK = os.environ.get("BATON_SOAK", "") not in ("", "0", "false")


def why_no_stack() -> str | None:
    """The reason the stack cannot run here, or None when it can."""
    if not _pg_bin_dir():
        return "the fault suites need PostgreSQL's server binaries in /usr/lib/postgresql/*/bin"
    if not shutil.which("redis-server"):
        return "the fault suites need redis-server"
    if os.geteuid() != 0 or not shutil.which("runuser"):
        return "the fault suites run initdb as the postgres user: they need root and runuser"
    return None


def _pg_bin_dir() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
    )
    return found[-1].parent if found else None


def wait_for[T](what: str, check: Callable[[], T], timeout: float, interval: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# ---- processes -----------------------------------------------------------------------------


def _remember(name: str, pid: int | None) -> None:
    state = _state()
    if pid is None:
        state.pop(name, None)
    else:
        state[name] = pid
    STATE_FILE.write_text(json.dumps(state))


def _state() -> dict[str, int]:
    try:
        return json.loads(STATE_FILE.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def stop_leftovers() -> None:
    """Stop what a previous run of this harness started and could not stop (it was killed)."""
    for pid in _state().values():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    STATE_FILE.unlink(missing_ok=True)


@dataclass
class Proc:
    """One service: started in its own session so it and its children stop together."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path = REPO
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts + 1} at {time.time():.3f} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        _remember(self.name, self.process.pid)

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def kill9(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs (a crashed host or OOM kill)."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)
        self.process = None
        _remember(self.name, None)

    def stop(self, timeout: float = 15) -> None:
        if self.process is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.signal(signal.SIGKILL)  # children that outlived their parent
        self.process = None
        _remember(self.name, None)

    def log_since_start(self) -> str:
        """This run's output (since the last start)."""
        return self.log(tail=100_000).rpartition(f"===== start {self.starts} at")[2]

    def log(self, tail: int = 80) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"(no {self.name} log)"
        return "\n".join(lines[-tail:])


# ---- receivers -----------------------------------------------------------------------------


class SmtpSink:
    """A real SMTP server counting each Message-ID it accepted (a duplicate send shows as 2)."""

    def __init__(self, port: int = SMTP_PORT) -> None:
        from aiosmtpd.controller import Controller

        for noisy in ("mail.log", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.port = port
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message = message_from_bytes(envelope.content)
                with sink.lock:
                    sink.counts[str(message.get("Message-ID", "")).strip()] += 1
                return "250 Message accepted for delivery"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counts)


class WebhookSink:
    """A webhook subscriber counting each X-Baton-Delivery id it answered 2xx to."""

    def __init__(self, port: int = WEBHOOK_PORT) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with sink.lock:
                    sink.counts[self.headers.get("X-Baton-Delivery", "")] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> WebhookSink:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counts)


# ---- the stack -----------------------------------------------------------------------------


@dataclass
class Stack:
    root: Path
    postgres: Proc
    redis: Proc
    server: Proc
    worker: Proc
    beat: Proc
    env: dict[str, str]
    api_key: str = ""
    smtp: SmtpSink | None = None
    webhooks: WebhookSink | None = None
    pg_data: Path = field(default_factory=Path)
    destroyed: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{SERVER_PORT}"

    @property
    def dsn(self) -> str:
        return f"postgresql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{PG_PORT}/{DB_NAME}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{REDIS_PORT}/{REDIS_DB}"

    # -- PostgreSQL --

    def pg_start(self) -> None:
        self.postgres.start()
        wait_for("PostgreSQL to accept connections", self._pg_ready, 60)

    def pg_stop(self, mode: str = "fast") -> None:
        """fast: SIGINT (roll back, disconnect everyone, checkpoint); immediate: SIGQUIT (no
        checkpoint: crash recovery from the WAL at the next start)."""
        sig = {"fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        assert self.postgres.process is not None
        # The postmaster only: it tells its backends itself (SIGINT to a backend would cancel).
        postmaster = int((self.pg_data / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, sig)
        self.postgres.process.wait(timeout=60)
        self.postgres.process = None
        _remember("postgres", None)

    def _pg_ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(
                host="127.0.0.1",
                port=PG_PORT,
                user="postgres",
                dbname="postgres",
                connect_timeout=2,
            ):
                return True
        except psycopg.OperationalError:
            return False

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn, connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()

    def scalar(self, query: str, params: Any = None) -> Any:
        return self.sql(query, params)[0][0]

    # -- Redis --

    def redis_start(self) -> None:
        self.redis.start()
        wait_for("Redis to answer PING", self._redis_ready, 30)

    def _redis_ready(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=REDIS_PORT, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    # -- the application's processes --

    def server_start(self) -> None:
        self.server.start()
        wait_for("the server's /healthz", self.healthy, 90)

    def healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def worker_start(self) -> None:
        self.worker.start()
        wait_for("the worker to be ready", lambda: "ready." in self.worker.log_since_start(), 90)

    def manage(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def all_up(self) -> None:
        """Whatever a test stopped, bring it back (between tests of a module)."""
        if not self.postgres.running:
            self.pg_start()
        if not self.redis.running:
            self.redis_start()
        if not self.server.running:
            self.server_start()
        if not self.worker.running:
            self.worker_start()
        if not self.beat.running:
            self.beat.start()

    def stop_all(self) -> None:
        for proc in (self.beat, self.worker, self.server, self.redis):
            with contextlib.suppress(Exception):
                proc.stop()
        with contextlib.suppress(Exception):
            if self.postgres.running:
                self.pg_stop("fast")
        with contextlib.suppress(Exception):
            self.postgres.stop()
        for sink in (self.smtp, self.webhooks):
            if sink is not None:
                with contextlib.suppress(Exception):
                    sink.stop()

    def logs(self) -> str:
        return "\n".join(
            f"----- {p.name} ({p.log_path}) -----\n{p.log()}"
            for p in (self.server, self.worker, self.beat, self.postgres, self.redis)
        )

    # -- what the tests measure --

    def audit(self, prefix: str) -> Audit:
        """What the database holds for contacts `prefix*`, and what the receivers got."""
        like = prefix + "%"
        per_contact = """
            SELECT c.external_id,
                (SELECT count(*) FROM journeys_signal s WHERE s.contact_id = c.id),
                (SELECT count(*) FROM journeys_signal s WHERE s.contact_id = c.id
                    AND s.evaluated_at IS NOT NULL),
                (SELECT count(*) FROM handoffs_handoff h WHERE h.contact_id = c.id),
                (SELECT count(*) FROM journeys_enrollment e WHERE e.contact_id = c.id),
                (SELECT count(*) FROM journeys_enrollment e WHERE e.contact_id = c.id
                    AND e.status = 'completed')
            FROM journeys_contact c WHERE c.external_id LIKE %s"""
        contacts = {row[0]: row[1:] for row in self.sql(per_contact, [like])}
        emails = self.sql(
            "SELECT m.id, m.created_at, o.status, o.attempts FROM handoffs_outboxentry o "
            "JOIN handoffs_message m ON m.id = o.message_id JOIN handoffs_conversation v "
            "ON v.id = m.conversation_id JOIN journeys_contact c ON c.id = v.contact_id "
            "WHERE c.external_id LIKE %s",
            [like],
        )
        deliveries = self.sql(
            "SELECT d.delivery_id, d.status, d.attempts FROM portal_outbounddelivery d "
            "WHERE d.payload -> 'data' -> 'contact' ->> 'external_id' LIKE %s",
            [like],
        )
        every_email = self.sql(
            "SELECT m.id, m.created_at FROM handoffs_outboxentry o "
            "JOIN handoffs_message m ON m.id = o.message_id"
        )
        every_delivery = self.sql("SELECT delivery_id FROM portal_outbounddelivery")
        domain = self.env["BATON_EMAIL_DOMAIN"]

        def message_id(pk: int, created: Any) -> str:
            return f"<{created.strftime('%Y%m%d%H%M%S.%f')}.{pk}.baton@{domain}>"

        assert self.smtp is not None and self.webhooks is not None
        return Audit(
            contacts=contacts,
            email_ids={
                message_id(pk, created): (status, tries) for pk, created, status, tries in emails
            },
            delivery_ids={str(pk): (status, tries) for pk, status, tries in deliveries},
            smtp=self.smtp.snapshot(),
            webhooks=self.webhooks.snapshot(),
            held_email_ids={message_id(pk, created) for pk, created in every_email},
            held_delivery_ids={str(row[0]) for row in every_delivery},
        )


@dataclass
class Audit:
    """contacts: external id → (signals, evaluated, handoffs, enrollments, completed);
    email_ids / delivery_ids: the prefix's outbox Message-IDs and webhook delivery ids (what the
    receivers see) → (status, attempts); smtp / webhooks: what each receiver counted (all runs)."""

    contacts: dict[str, tuple[int, ...]]
    email_ids: dict[str, tuple[str, int]]
    delivery_ids: dict[str, tuple[str, int]]
    smtp: Counter[str]
    webhooks: Counter[str]
    held_email_ids: set[str]  # every email / delivery the database holds, any prefix
    held_delivery_ids: set[str]

    def column(self, index: int) -> Counter[int]:
        """How many contacts have 0, 1, 2… of column `index` (a shape, easy to assert)."""
        return Counter(row[index] for row in self.contacts.values())

    @property
    def emails_lost(self) -> int:
        return sum(1 for mid in self.email_ids if self.smtp[mid] == 0)

    @property
    def emails_duplicated(self) -> int:
        """Extra copies on the wire: sends of the same Message-ID after the first."""
        return sum(max(self.smtp[mid] - 1, 0) for mid in self.email_ids)

    @property
    def webhooks_lost(self) -> int:
        return sum(1 for did in self.delivery_ids if self.webhooks[did] == 0)

    @property
    def webhooks_duplicated(self) -> int:
        return sum(max(self.webhooks[did] - 1, 0) for did in self.delivery_ids)

    def drained(self) -> bool:
        """Everything sent and recorded sent (the receivers' counts are checked separately)."""
        return all(status == "sent" for status, _ in self.email_ids.values()) and all(
            status == "delivered" for status, _ in self.delivery_ids.values()
        )

    def figures(self) -> dict[str, int]:
        return {
            "contacts": len(self.contacts),
            "handoffs": sum(row[2] for row in self.contacts.values()),
            "emails": len(self.email_ids),
            "emails_lost": self.emails_lost,
            "emails_duplicated": self.emails_duplicated,
            "webhooks": len(self.delivery_ids),
            "webhooks_lost": self.webhooks_lost,
            "webhooks_duplicated": self.webhooks_duplicated,
        }


def _write_pg_conf(data: Path, socket_dir: Path) -> None:
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nport = {PG_PORT}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{socket_dir}'\nmax_connections = 100\n"
            "shared_buffers = 64MB\nlogging_collector = off\n"
        )
    with (data / "pg_hba.conf").open("w") as hba:
        hba.write(
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )


def stack_create() -> Stack:
    """initdb, Redis, migrate, seed, then the server, the worker and beat — all running."""
    reason = why_no_stack()
    if reason:
        raise RuntimeError(reason)
    stop_leftovers()
    root = Path(tempfile.mkdtemp(prefix="baton-faults-a-"))
    root.chmod(0o755)
    logs = REPO / "test-artifacts" / "faults"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    data, socket_dir = root / "pg", root / "pg-socket"
    for directory in (data, socket_dir):
        directory.mkdir()
        shutil.chown(directory, "postgres", "postgres")
    data.chmod(0o700)
    bin_dir = _pg_bin_dir()
    assert bin_dir is not None
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--auth=trust",
        ],
        cwd="/",
        check=True,
        capture_output=True,
    )
    _write_pg_conf(data, socket_dir)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": f"postgres://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{PG_PORT}/{DB_NAME}",
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/{REDIS_DB}",
        "SECRET_KEY": "faults-a",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(SMTP_PORT),
        "EMAIL_TIMEOUT": "5",
        "DEFAULT_FROM_EMAIL": "Baton <baton@baton.example>",
        "BATON_EMAIL_DOMAIN": "baton.example",
        "BATON_EMAIL_BACKEND": "handoffs.channels.EmailBackend",
        "BATON_SWEEP_INTERVAL_SECONDS": str(SWEEP_SECONDS),
        "BATON_OUTBOX_LEASE_SECONDS": str(OUTBOX_LEASE_SECONDS),
        "BATON_OUTBOUND_TIMEOUT_SECONDS": str(OUTBOUND_TIMEOUT_SECONDS),
        "BATON_OUTBOUND_RETRY_BASE_SECONDS": "1",
        "BATON_RATE_LIMIT_KEY_PER_MINUTE": "0",  # the ingest is a load test of its own
        "LOG_LEVEL": "WARNING",
    }
    for name in ("BATON_CELERY_EAGER", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG"):
        env.pop(name, None)

    def proc(name: str, argv: list[str], proc_env: dict[str, str] | None = None) -> Proc:
        return Proc(name=name, argv=argv, env=proc_env or env, log_path=logs / f"{name}.log")

    py = sys.executable
    stack = Stack(
        root=root,
        pg_data=data,
        env=env,
        postgres=proc(
            "postgres",
            ["runuser", "-u", "postgres", "--", str(bin_dir / "postgres"), "-D", str(data)],
            {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
        ),
        redis=proc(
            "redis",
            [
                "redis-server",
                "--port",
                str(REDIS_PORT),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
        ),
        server=proc(
            "server",
            [
                py,
                "-m",
                "portal.serve",
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(SERVER_PORT),
                "--workers",
                "2",
                "--lifespan",
                "on",
                "--no-access-log",
            ],
        ),
        worker=proc(
            "worker",
            [
                py,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "-l",
                "info",
                "--concurrency",
                "2",
                "-n",
                f"faults-a@{socket.gethostname()}",
                "--without-gossip",
                "--without-mingle",
            ],
        ),
        beat=proc(
            "beat",
            [
                py,
                "-m",
                "celery",
                "-A",
                "portal",
                "beat",
                "-l",
                "info",
                "-s",
                str(root / "beat-schedule"),
                "--pidfile=",
            ],
        ),
    )
    try:
        stack.postgres.cwd = Path("/")
        stack.pg_start()
        _create_role_and_db()
        stack.redis_start()
        stack.smtp = SmtpSink().start()
        stack.webhooks = WebhookSink().start()
        stack.manage("migrate", "--no-input", timeout=900)
        seeded = subprocess.run(
            [py, "-m", "portal.tests.stack", "seed", stack.webhooks.url],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{seeded.stdout}\n{seeded.stderr}")
        stack.api_key = json.loads(seeded.stdout.strip().splitlines()[-1])["api_key"]
        stack.server_start()
        stack.worker_start()
        stack.beat.start()
    except BaseException:
        print(stack.logs())
        stack_destroy(stack)
        raise
    return stack


def _create_role_and_db() -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=PG_PORT, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f"CREATE ROLE {DB_USER} LOGIN CREATEDB PASSWORD '{DB_PASSWORD}'")
        conn.execute(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")


def stack_destroy(stack: Stack) -> None:
    if stack.destroyed:
        return
    stack.destroyed = True
    stack.stop_all()
    shutil.rmtree(stack.root, ignore_errors=True)
    STATE_FILE.unlink(missing_ok=True)


_SHARED: Stack | None = None
_SHARED_LOCK = threading.Lock()


def shared_stack() -> Stack:
    """One stack per pytest process, shared by the fault modules (migrating is the slow part);
    torn down when the process exits (see the `stack` fixture)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            import atexit

            _SHARED = stack_create()
            atexit.register(stack_destroy, _SHARED)
        return _SHARED


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The shared stack, everything running. Tests may stop or kill anything; the next module
    gets it all back up. Destroyed when pytest finishes (and, failing that, at exit)."""
    reason = why_no_stack()
    if reason:
        pytest.skip(reason)
    first = _SHARED is None
    shared = shared_stack()
    if first:
        request.config.add_cleanup(lambda: stack_destroy(shared))
    shared.all_up()
    yield shared
    shared.all_up()


@contextlib.contextmanager
def logs_on_failure(stack: Stack) -> Iterator[None]:
    try:
        yield
    except BaseException:
        print(stack.logs())
        raise


# ---- sending signals -----------------------------------------------------------------------


def high_value_signal(external_id: str) -> dict[str, Any]:
    """Raises a handoff (the high-value rule) → a `handoff.created` webhook delivery."""
    return {
        "type": "form_submitted",
        "idempotency_key": f"k-{external_id}",
        "contact": {"external_id": external_id, "email": f"{external_id}@example.com"},
        "properties": {"budget": 90000, "currency": "GBP"},
    }


def trial_signal(external_id: str) -> dict[str, Any]:
    """Enrolls the contact in the trial journey, whose first step emails them."""
    return {
        "type": "trial_started",
        "idempotency_key": f"k-{external_id}",
        "contact": {
            "external_id": external_id,
            "email": f"{external_id}@example.com",
            "name": "Ada Lovelace",
        },
        "properties": {"plan": "team"},
    }


def signals_for(prefix: str, count: int) -> list[dict[str, Any]]:
    """Alternating trial (email) and high-value (handoff + webhook) signals, one contact each."""
    return [
        trial_signal(f"{prefix}{n}") if n % 2 == 0 else high_value_signal(f"{prefix}{n}")
        for n in range(count)
    ]


@dataclass
class Sent:
    """One POST of a unit (one signal, or a batch) and its answer."""

    bodies: list[dict[str, Any]]
    status: int | None  # None: no answer (connection refused, reset, timeout)
    retry_after: str | None = None
    seconds: float = 0.0
    answer: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when the answer (or failure) came


def post_signals(client: Any, url: str, api_key: str, bodies: list[dict[str, Any]]) -> Sent:
    """One signal to /signals/, several to /signals/batch/."""
    import httpx

    started = time.monotonic()
    single = len(bodies) == 1
    try:
        response = client.post(
            f"{url}/api/v1/signals/" if single else f"{url}/api/v1/signals/batch/",
            json=bodies[0] if single else {"signals": bodies},
            headers={"Authorization": f"Bearer {api_key}"},
        )
    except httpx.HTTPError:
        return Sent(bodies, None, seconds=time.monotonic() - started)
    try:
        answer = response.json()
    except ValueError:
        answer = {"raw": response.text[:200]}
    return Sent(
        bodies,
        response.status_code,
        response.headers.get("Retry-After"),
        time.monotonic() - started,
        answer if isinstance(answer, dict) else {},
    )


def ingest(
    stack: Stack,
    bodies: list[dict[str, Any]],
    *,
    batch: int = 1,
    threads: int = 4,
    during: Callable[[int], None] | None = None,
    give_up_after: float = 180,
) -> list[Sent]:
    """POST every body, `batch` per request, from `threads` clients, as an integration does: a
    503 or no answer is sent again after its Retry-After (same idempotency keys) until it is
    answered, for at most `give_up_after` s. `during(n)` runs (in the client thread) after the
    n-th unit is answered, to inject faults. Returns every attempt, in order."""
    import httpx

    attempts: list[Sent] = []
    lock = threading.Lock()
    units = [bodies[i : i + batch] for i in range(0, len(bodies), batch)]
    units.reverse()
    done = [0]

    def run() -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    if not units:
                        return
                    unit = units.pop()
                first = time.monotonic()
                while True:
                    sent = post_signals(client, stack.url, stack.api_key, unit)
                    with lock:
                        attempts.append(sent)
                    if sent.status is not None and sent.status != 503:
                        break
                    if time.monotonic() - first > give_up_after:
                        break
                    time.sleep(min(float(sent.retry_after or 1), 2.0))
                with lock:
                    done[0] += 1
                    n = done[0]
                if during is not None:
                    during(n)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return attempts


def accepted_keys(attempts: list[Sent]) -> set[str]:
    """The idempotency keys the server answered 202 for (a batch's items all count, unless the
    answer names them as errors)."""
    keys: set[str] = set()
    for sent in attempts:
        if sent.status != 202:
            continue
        refused = {e.get("index") for e in sent.answer.get("errors") or []}
        keys.update(b["idempotency_key"] for i, b in enumerate(sent.bodies) if i not in refused)
    return keys


def drain(stack: Stack, prefix: str, timeout: float) -> tuple[Audit, float]:
    """Wait until every email and webhook for `prefix*` is sent, recorded and received; then a
    few seconds more (a late duplicate would arrive then: the sweeps run every 2 s)."""
    started = time.monotonic()
    audit = stack.audit(prefix)
    while not (audit.drained() and audit.emails_lost == 0 and audit.webhooks_lost == 0):
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not drained after {timeout:.0f} s: {audit.figures()}")
        time.sleep(1)
        audit = stack.audit(prefix)
    seconds = time.monotonic() - started
    time.sleep(3 * SWEEP_SECONDS)
    return stack.audit(prefix), seconds


def assert_exactly_once(audit: Audit, signals: int, *, wire_duplicates_at_most: int = 0) -> None:
    """signals_for(prefix, signals) was accepted: each signal stored and evaluated once, each
    high-value one raised one handoff (one webhook), each trial ran its journey (one email), and
    every email and webhook reached its receiver once per id."""
    assert len(audit.contacts) == signals
    assert audit.column(0) == {1: signals}  # signals per contact
    assert audit.column(1) == {1: signals}  # evaluated
    trials = (signals + 1) // 2
    high = signals - trials
    assert audit.column(2) == {1: high, 0: trials}  # handoffs: 0 lost, 0 doubled
    assert audit.column(3) == {1: trials, 0: high}  # enrolled once…
    assert audit.column(4) == {1: trials, 0: high}  # …and ran to the end
    assert len(audit.email_ids) == trials
    assert len(audit.delivery_ids) == high
    assert audit.emails_lost == 0 and audit.webhooks_lost == 0
    # Nothing reached a receiver that the database does not hold (the receivers are shared by
    # every suite, so this is checked against all of it).
    assert set(audit.smtp) <= audit.held_email_ids
    assert set(audit.webhooks) <= audit.held_delivery_ids
    duplicates = audit.emails_duplicated + audit.webhooks_duplicated
    assert duplicates <= wire_duplicates_at_most, audit.figures()


# ---- the organisation (run in a subprocess on the stack's database) -------------------------


def seed(webhook_url: str) -> dict[str, Any]:
    """Sales with a director and a rep, the high-value rule, a trial journey whose first step
    emails the contact, a webhook subscriber for handoff.created, and an ingest key."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from handoffs.choices import Priority, Trigger
    from journeys.choices import LoopStage, StepKind, StepMode
    from journeys.engine import journey_publish
    from journeys.models import HandoffRule, Journey, Stage, Step
    from portal.choices import Role
    from portal.integrations.outbound_models import WebhookSubscription
    from portal.integrations.outbound_services import webhook_subscription_create
    from portal.models import Team
    from portal.services import api_key_create, membership_set

    sales = Team.objects.create(slug="sales", name="Sales", first_response_minutes=15)
    for username, role in (("sam", Role.DIRECTOR), ("riley", Role.REP)):
        user = get_user_model().objects.create_user(username=username, password="faults-a-pass")
        membership_set(user=user, team=sales, role=role)
    HandoffRule.objects.create(
        name="High value",
        signal_type="form_submitted",
        condition={"path": "properties.budget", "op": ">=", "value": 50000},
        trigger=Trigger.HIGH_VALUE,
        team=sales,
        offer_to_role=Role.DIRECTOR,
        priority=Priority.URGENT,
        reason_template="Budget {properties.budget} {properties.currency}",
    )
    journey = Journey.objects.create(
        name="Trial welcome", slug="trial-welcome", enroll_on_signal_type="trial_started"
    )
    stage = Stage.objects.create(journey=journey, name="Onboard", loop_stage=LoopStage.ONBOARD)
    for order, (key, kind, config) in enumerate(
        [
            (
                "welcome",
                StepKind.SEND_MESSAGE,
                {"channel": "email", "subject": "Welcome", "template": "Hi, welcome aboard."},
            ),
            ("done", StepKind.END, {"outcome": "completed"}),
        ]
    ):
        Step.objects.create(
            journey=journey,
            stage=stage,
            key=key,
            order=order,
            kind=kind,
            config=config,
            mode=StepMode.AUTOMATION,
        )
    try:
        journey_publish(journey=journey)
    except Exception as exc:
        raise SystemExit(f"{exc}: {getattr(exc, 'errors', '')}") from exc
    subscription = WebhookSubscription(
        name="Faults subscriber", url=webhook_url, event_types=["handoff.created"]
    )
    webhook_subscription_create(subscription=subscription, actor=None)
    _, raw_key = api_key_create(name="faults ingest")
    return {"api_key": raw_key}


if __name__ == "__main__":
    if sys.argv[1:2] == ["seed"]:
        print(json.dumps(seed(sys.argv[2])))
    else:
        sys.exit("usage: python -m portal.tests.stack seed <webhook url>")
