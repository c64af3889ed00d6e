"""Celery beat keeps the rollups current (every 30 s: CELERY_BEAT_SCHEDULE); the embedded timer
runs the same entry in dev."""

from __future__ import annotations

from celery import shared_task

from governance.dashboard.refresh import rollups_refresh


@shared_task(name="governance.dashboard.tasks.rollups_refresh", ignore_result=True)
def rollups_refresh_task() -> int:
    """Rebuild the rollup buckets touched since the last run; a run that finds another one
    running returns at once."""
    return rollups_refresh().buckets


@shared_task(name="governance.dashboard.tasks.rollups_rebuild", ignore_result=True)
def rollups_rebuild_task() -> int:
    """Rebuild every bucket once a day: rows deleted from the raw tables (a contact erased, a
    journey removed) leave no timestamp for the incremental run to find."""
    return rollups_refresh(full=True).buckets
