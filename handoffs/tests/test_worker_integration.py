"""The outbox through the real stack: a `celery worker` process on Redis and the pytest-django
test database on PostgreSQL, nothing eager.

Other people's workers may share this Redis: this module's worker has its own node name and
consumes only its own queue (which is also where it sends follow-up tasks, so a sweep's
deliveries come back to it), and only that queue's keys are deleted afterwards."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from django.db import connection
from django.utils import timezone

from handoffs.choices import Channel, Direction, OutboxStatus
from handoffs.models import Handoff, Message, OutboxEntry
from handoffs.services import conversation_for, handoff_claim, handoff_reply
from handoffs.tasks import outbox_sweep
from handoffs.tests.e2e_support import database_url_for, stop_process
from portal.celery import app

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60
DELIVERY_SECONDS = 30


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]
    node: str
    queue: str

    def log(self, since: int = 0) -> str:
        """What the worker printed, from character `since` on (see `mark`)."""
        return Path(self.log_file.name).read_text(errors="replace")[since:]

    def mark(self) -> int:
        return len(self.log())

    def fail(self, what: str) -> None:
        pytest.fail(f"{what}\n--- celery worker output ---\n{self.log()}", pytrace=False)

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        """Poll `check` until it returns something truthy; bounded, and never asserts on time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"the worker exited with {self.process.returncode} waiting for {what}")
            result = check()
            if result:
                return result
            time.sleep(0.2)
        self.fail(f"timed out after {timeout:.0f} s waiting for {what}")

    def finished(self, task_id: str) -> str | None:
        """The return value the worker logged for task `task_id`, once it has run."""
        match = re.search(rf"\[{re.escape(task_id)}\] succeeded in [\d.e-]+s: (.*)", self.log())
        return match.group(1).strip() if match else None


def _reset_broker_pools() -> None:
    """Forget the app's cached broker pools so the next send uses the current broker_url.
    Not closed: kombu shares one pool per broker URL across the process."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(scope="module")
def worker(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Worker]:
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("REDIS_URL is not set: the worker integration tests need Redis")
    if connection.vendor != "postgresql":
        pytest.skip("the worker integration tests need PostgreSQL (DATABASE_URL)")

    run = uuid.uuid4().hex[:10]
    queue = f"baton-test-{run}"
    node = f"baton-test-{run}@{socket.gethostname()}"
    log_file = tempfile.NamedTemporaryFile(prefix="celery-worker-", suffix=".log")  # noqa: SIM115
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test",
        "DATABASE_URL": database_url_for(connection.settings_dict),
        "PYTHONUNBUFFERED": "1",
        # The local backend logs each send, which these tests count; email over SMTP has its
        # own tests against a real local SMTP server (test_email_channel.py).
        "BATON_EMAIL_BACKEND": "handoffs.channels.LocalBackend",
    }
    env.pop("BATON_CELERY_EAGER", None)
    env.pop("CELERY_BROKER_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "-l",
            "info",
            "-n",
            node,
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            # Tasks the worker sends itself (the sweep's deliveries) go to its own queue too.
            f"task_default_queue={queue}",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    saved = {
        key: app.conf[key] for key in ("task_always_eager", "broker_url", "task_default_queue")
    }
    app.conf.task_always_eager = False
    app.conf.broker_url = redis_url
    app.conf.task_default_queue = queue
    _reset_broker_pools()
    handle = Worker(process=process, log_file=log_file, node=node, queue=queue)
    try:
        handle.wait_for(
            "the worker to answer a ping",
            lambda: app.control.ping(destination=[node], timeout=1),
            STARTUP_SECONDS,
        )
        yield handle
    finally:
        for key, value in saved.items():
            app.conf[key] = value
        _reset_broker_pools()
        stop_process(process)
        _delete_queue(redis_url, queue)
        log_file.close()


def _delete_queue(redis_url: str, queue: str) -> None:
    """Remove this run's queue and its binding only; never flush a shared Redis."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    finally:
        client.close()


def _entry(message_id: int) -> OutboxEntry:
    return OutboxEntry.objects.get(message_id=message_id)


def _raise_high_value_handoff(send_signal: Callable[..., Any]) -> Handoff:
    response = send_signal(external_id="c-worker", key="worker-1")
    assert response.status_code == 202, response.content
    return Handoff.objects.get(contact__external_id="c-worker")


def test_a_reply_is_delivered_by_the_real_worker(
    worker: Worker, org: Any, send_signal: Callable[..., Any]
) -> None:
    start = worker.mark()
    handoff = _raise_high_value_handoff(send_signal)
    riley = org.users["riley"]
    handoff_claim(handoff_id=handoff.pk, user=riley)
    message = handoff_reply(handoff_id=handoff.pk, user=riley, body="Happy to help, Ada")

    def sent() -> OutboxEntry | None:
        entry = _entry(message.pk)
        return entry if entry.status == OutboxStatus.SENT else None

    entry = worker.wait_for("the reply's outbox entry to be sent", sent, DELIVERY_SECONDS)
    assert entry.backend == "local"
    assert entry.attempts == 1
    assert entry.provider_message_id == f"local-{entry.pk}"
    assert entry.sent_at is not None
    assert entry.lease_until is None
    assert entry.to_address == "c-worker@example.com"
    assert message.channel == Channel.EMAIL
    # Sent by the worker process, not eagerly in this one.
    assert "local email to c-worker@example.com: Happy to help, Ada" in worker.log(since=start)


def test_the_sweep_delivers_an_entry_whose_task_was_lost_and_never_sends_twice(
    worker: Worker, org: Any, send_signal: Callable[..., Any]
) -> None:
    start = worker.mark()  # the worker is shared by this module's tests
    handoff = _raise_high_value_handoff(send_signal)
    # A reply whose delivery task never reached the broker: rows only, nothing enqueued.
    message = Message.objects.create(
        conversation=conversation_for(handoff.contact),
        handoff=handoff,
        direction=Direction.OUT,
        channel=Channel.EMAIL,
        body="Lost in transit",
        author=org.users["riley"],
    )
    OutboxEntry.objects.create(
        message=message,
        channel=Channel.EMAIL,
        to_address="c-worker@example.com",
        next_attempt_at=timezone.now(),
    )

    # Two sweeps back to back: both may find the entry due and enqueue a delivery each, but
    # only the holder of the lease sends.
    sweeps = [outbox_sweep.delay(), outbox_sweep.delay()]
    for sweep in sweeps:
        worker.wait_for(
            f"sweep {sweep.id}", lambda sweep=sweep: worker.finished(sweep.id), DELIVERY_SECONDS
        )

    def sent() -> OutboxEntry | None:
        entry = _entry(message.pk)
        return entry if entry.status == OutboxStatus.SENT else None

    entry = worker.wait_for("the swept entry to be sent", sent, DELIVERY_SECONDS)
    assert entry.backend == "local"
    assert entry.attempts == 1

    # Once sent, a further sweep finds nothing due.
    again = outbox_sweep.delay()
    result = worker.wait_for(f"sweep {again.id}", lambda: worker.finished(again.id), 30)
    assert result == "0"

    # Every delivery task the sweeps enqueued has run by now (one queue, one solo worker, FIFO):
    # exactly one of them sent.
    log = worker.log(since=start)
    deliveries = re.findall(r"outbox_deliver\[[^\]]+\] succeeded in [\d.e-]+s: '?(\w+)'?", log)
    assert deliveries.count("sent") == 1, log
    assert log.count("local email to c-worker@example.com: Lost in transit") == 1, log
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (OutboxStatus.SENT, 1)
