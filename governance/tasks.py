"""Celery tasks for governance: beat sweeps that call a service and own nothing else."""

from __future__ import annotations

from celery import shared_task

from governance.policies.approvals import approvals_expire_due
from governance.policies.services import deferrals_settle as settle_deferrals


@shared_task(name="governance.tasks.approvals_expire", ignore_result=True)
def approvals_expire() -> int:
    """Held messages past their expiry get their default action (send as is, or reject), once
    each, however many sweepers run."""
    return approvals_expire_due()


@shared_task(name="governance.tasks.deferrals_settle", ignore_result=True)
def deferrals_settle() -> int:
    """Record how each deferred touch ended once its delivery is over."""
    return settle_deferrals()
