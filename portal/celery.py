import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("baton")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes the database before and after every task, and in a prefork
# worker with psycopg's pool (settings.DATABASES) that closes the whole pool: every task then
# started a new pool and opened `min_size` new PostgreSQL connections, then tore them down —
# a few milliseconds of CPU per task in the worker and in PostgreSQL, for every journey step
# and dispatch. The fixup still closes the pool after a fork (worker_process_init); between
# tasks `_connections_back` below hands the connection back to the pool instead, which checks
# it before lending it again (so a restarted PostgreSQL costs no task).
app.conf.CELERY_DB_REUSE_MAX = 1_000_000
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _connections_back(sender: Any = None, **_: Any) -> None:
    """What Django does at the end of a request: a connection that is broken, or past its age
    (0: every one), goes back to the pool. Not for a task run eagerly: it runs inside its
    caller's transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
