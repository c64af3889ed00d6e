"""Embedded mode's stand-in for Celery beat: a timer inside the ASGI server's own event loop
that runs CELERY_BEAT_SCHEDULE's tasks in-process, so sweeps keep running with no broker.

It lives in the server's loop (started by the ASGI lifespan) so the pushes its tasks make reach
consumers through the in-process channel layer."""

from __future__ import annotations

import asyncio
import logging
import time
from functools import cache
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

log = logging.getLogger("baton.embedded")


@cache
def _task(name: str) -> Any:
    """The task beat would send, by its registered name (as Celery resolves it: a task's name
    need not be an importable path). Looked up once per name."""
    from portal.celery import app

    app.loader.import_default_modules()  # the apps' tasks modules, as a worker loads them
    return app.tasks[name]


def _run(task_name: str) -> None:
    try:
        _task(task_name)()
    except Exception:
        log.exception("embedded run of %s failed", task_name)


async def run_timer(tick_seconds: float = 1.0) -> None:
    schedule = {
        name: (entry["task"], float(entry["schedule"]))
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
    }
    next_run = dict.fromkeys(schedule, time.monotonic())
    log.info("embedded timer running %s", ", ".join(sorted(schedule)))
    while True:
        now = time.monotonic()
        for name, (task_path, every) in schedule.items():
            if now >= next_run[name]:
                next_run[name] = now + every
                await sync_to_async(_run, thread_sensitive=True)(task_path)
        await asyncio.sleep(tick_seconds)


def with_lifespan(app: Any) -> Any:
    async def application(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)
        timer: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if settings.BATON_EMBEDDED_TIMER:
                    timer = asyncio.create_task(run_timer())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if timer is not None:
                    timer.cancel()
                await send({"type": "lifespan.shutdown.complete"})
                return None

    return application
