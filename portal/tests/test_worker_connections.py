"""A production worker (prefork, psycopg's pool) keeps its database connections between
tasks: Celery's Django fixup used to close the whole pool after every task, so each task
opened new PostgreSQL connections and tore them down (portal/celery.py)."""

from __future__ import annotations

import secrets

import pytest
from django.db import connection

from handoffs.tasks import sla_sweep
from handoffs.tests.live_support import (
    clear_queue,
    kill_group,
    needs_real_stack,
    start_worker,
    tasks_to_broker,
    wait_idle,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _backends(name: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [name])
        return {row[0] for row in cursor.fetchall()}


def test_a_prefork_worker_reuses_its_pooled_connections_across_tasks() -> None:
    needs_real_stack()
    clear_queue()
    name = f"baton-worker-{secrets.token_hex(4)}"  # libpq names the worker's connections
    worker = start_worker(concurrency=1, pool="prefork", env={"PGAPPNAME": name})
    try:
        with tasks_to_broker():
            sla_sweep.delay()
            wait_idle(worker)
            first = _backends(name)
            for _ in range(5):
                sla_sweep.delay()
            wait_idle(worker)
            after = _backends(name)
        assert first, f"the worker held no connection after its task\n{worker.log()}"
        assert after == first  # the same PostgreSQL backends served all six tasks
    finally:
        kill_group(worker.process)
        clear_queue()
