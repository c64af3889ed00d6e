"""The real stack for the fault suites (issue 8, faults 4–5): uvicorn (several worker processes),
`celery worker` and `celery beat` as subprocesses on the pytest test database and Redis, each
one killable with SIGKILL and restartable.

Other people's servers and workers may share this Redis: every process here sends and consumes
only a queue of its own (`FaultStack.queue`), and only that queue's keys are removed afterwards.
Size: the suites run small in CI; `BATON_SOAK=1` runs the longer soak."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handoffs.tests.e2e_support import ARTIFACTS, REPO, database_url_for

SOAK = os.environ.get("BATON_SOAK", "") not in ("", "0", "false", "no")
# Ports this suite may listen on (a shared machine gives each engineer a range).
PORTS = range(9200, 9300)
START_SECONDS = 60.0


def soak_or(ci: Any, soak: Any) -> Any:
    return soak if SOAK else ci


def free_port() -> int:
    """A port in PORTS nobody listens on."""
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}–{PORTS.stop - 1}")


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (Linux /proc), for killing one uvicorn worker."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid …": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return sorted(children)


def wait_until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; bounded, and never asserts on time."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def asgi_on_own_queue() -> Any:
    """uvicorn's `--factory` entry point: the ASGI application, sending its Celery tasks to
    BATON_FAULT_QUEUE (settings have no variable for the default queue)."""
    from portal.asgi import application
    from portal.celery import app

    app.conf.task_default_queue = os.environ["BATON_FAULT_QUEUE"]
    return application


@dataclass
class Proc:
    """One subprocess in its own process group, its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log_offset: int = 0

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            log.write(f"\n===== start {self.starts + 1} of {self.name} =====\n".encode())
            self.process = subprocess.Popen(
                self.argv,
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: kill it and its children together
            )
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole group: no cleanup, no acks, connections dropped mid-transaction."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Terminate, wait, then kill the group: nothing outlives its test."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)

    def log(self, *, this_start: bool = False, tail: int | None = None) -> str:
        try:
            text = self.log_path.read_bytes()[self._log_offset if this_start else 0 :]
        except FileNotFoundError:
            return "(no log)"
        lines = text.decode(errors="replace").splitlines()
        return "\n".join(lines[-tail:] if tail else lines)

    def wait_log(self, pattern: str, timeout: float = START_SECONDS) -> None:
        def seen() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited while starting:\n{self.log(tail=80)}")
            return re.search(pattern, self.log(this_start=True)) is not None

        wait_until(f"{self.name} to start ({pattern!r})", seen, timeout)


@dataclass
class FaultStack:
    """Processes on one test database and one private Celery queue."""

    database_url: str
    redis_url: str
    label: str
    queue: str = field(default_factory=lambda: f"baton-fault-{uuid.uuid4().hex[:10]}")
    procs: list[Proc] = field(default_factory=list)

    @property
    def workdir(self) -> Path:
        return ARTIFACTS / f"fault-{self.label}"

    @property
    def mail_dir(self) -> Path:
        return self.workdir / "mail"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": "faults",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            "BATON_FAULT_QUEUE": self.queue,
            # Escalation alerts are written to files (one per connection) and counted; contact
            # email goes through the local backend, which logs each send.
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.mail_dir),
            "BATON_EMAIL_BACKEND": "handoffs.channels.LocalBackend",
            "BATON_EMBEDDED_TIMER": "false",
            # A shared PostgreSQL: each process keeps a small pool.
            "BATON_DB_POOL_MIN": "1",
            "BATON_DB_POOL_MAX": "6",
            **extra,
        }
        for key in ("BATON_CELERY_EAGER", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):
            env.pop(key, None)
        return env

    def _add(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        proc = Proc(name=name, argv=argv, env=env, log_path=self.workdir / f"{name}.log")
        self.procs.append(proc)
        return proc

    def worker(self, name: str = "worker") -> Proc:
        """`celery worker --pool solo` on this stack's queue; started and ready."""
        node = f"{name}-{self.queue}@{socket.gethostname()}"
        argv = [
            sys.executable,
            *("-m", "celery", "-A", "portal", "worker", "--pool", "solo", "-l", "info"),
            *("-n", node, "-Q", self.queue),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            f"task_default_queue={self.queue}",  # what it sends itself comes back here
        ]
        proc = self._add(name, argv, self.env())
        return self.restart(proc)

    def beat(self, name: str = "beat", interval: int = 1) -> Proc:
        """`celery beat` sending every scheduled sweep each `interval` seconds to this queue."""
        schedule = self.workdir / f"{name}-schedule"
        argv = [
            sys.executable,
            *("-m", "celery", "-A", "portal", "beat", "-l", "info"),
            *("-s", str(schedule)),
            f"task_default_queue={self.queue}",
        ]
        proc = self._add(name, argv, self.env(BATON_SWEEP_INTERVAL_SECONDS=str(interval)))
        return self.restart(proc)

    def server(self, *, workers: int = 2, name: str = "server") -> tuple[Proc, str]:
        """uvicorn with `workers` processes (its supervisor restarts one that dies)."""
        port = free_port()
        argv = [
            sys.executable,
            *("-m", "uvicorn", "handoffs.tests.fault_support:asgi_on_own_queue", "--factory"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            *("--timeout-graceful-shutdown", "2"),
        ]
        proc = self._add(name, argv, self.env())
        self.restart(proc)
        return proc, f"127.0.0.1:{port}"

    def restart(self, proc: Proc) -> Proc:
        proc.start()
        if "worker" in proc.argv:
            proc.wait_log(r"\bready\.")
        elif "beat" in proc.argv:
            proc.wait_log(r"beat: Starting")
        else:
            workers = int(proc.argv[proc.argv.index("--workers") + 1])
            wait_until(
                f"{workers} {proc.name} workers to start",
                lambda: proc.log(this_start=True).count("Application startup complete") >= workers,
                START_SECONDS,
            )
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self._delete_queue()

    def _delete_queue(self) -> None:
        """This queue's keys, and this queue's messages a killed worker left unacknowledged;
        never anyone else's."""
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            client.delete(
                self.queue, f"_kombu.binding.{self.queue}", f"_kombu.binding_permanent.{self.queue}"
            )
            for tag, raw in client.hscan_iter("unacked"):
                with contextlib.suppress(ValueError, IndexError, TypeError):
                    if json.loads(raw)[2] == self.queue:
                        client.hdel("unacked", tag)
                        client.zrem("unacked_index", tag)
        finally:
            client.close()

    def logs(self, tail: int = 60) -> str:
        return "\n".join(f"----- {p.name} -----\n{p.log(tail=tail)}" for p in self.procs)


@contextlib.contextmanager
def fault_stack(label: str) -> Iterator[FaultStack]:
    """A FaultStack on pytest's test database, stopped (and its queue removed) even on failure;
    the processes' output is printed when the block fails."""
    from django.db import connection

    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url or connection.vendor != "postgresql":
        import pytest

        pytest.skip("the fault suites need PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    stack = FaultStack(
        database_url=database_url_for(connection.settings_dict), redis_url=redis_url, label=label
    )
    stack.workdir.mkdir(parents=True, exist_ok=True)
    for old in stack.workdir.rglob("*"):
        if old.is_file():
            old.unlink()
    try:
        yield stack
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop()
