"""The replay runs off the request: a Celery task with a broker, a background thread of the web
process in embedded mode (eager Celery would run it inside the request, and the page could not
show its progress)."""

from __future__ import annotations

import logging
import threading

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections, connection, transaction

from governance.replay.services import replay_execute

log = logging.getLogger("baton.governance")

_threads: dict[int, threading.Thread] = {}


@shared_task(name="governance.replay.tasks.replay_run", ignore_result=True)
def replay_run(run_id: int) -> None:
    replay_execute(run_id=run_id)


def replay_dispatch(*, run_id: int) -> None:
    """Start the run once the row that describes it is committed."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(lambda: _in_thread(run_id), robust=True)
    else:
        transaction.on_commit(lambda: replay_run.delay(run_id), robust=True)


def _in_thread(run_id: int) -> None:
    def work() -> None:
        close_old_connections()
        try:
            replay_execute(run_id=run_id)
        finally:
            connection.close()
            _threads.pop(run_id, None)

    thread = threading.Thread(target=work, name=f"replay-{run_id}", daemon=True)
    _threads[run_id] = thread
    thread.start()


def replay_wait(*, timeout: float = 60.0) -> None:
    """Wait for the embedded-mode runs started so far (tests, and a clean shutdown)."""
    for thread in list(_threads.values()):
        thread.join(timeout)
