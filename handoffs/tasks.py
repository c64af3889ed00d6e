"""Celery tasks: ids in, a service call, retries owned here."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from handoffs.channels import DeliveryError, backend_for
from handoffs.choices import OutboxStatus
from handoffs.models import OutboxEntry
from handoffs.outbox import (
    outbox_claim,
    outbox_held_for_human,
    outbox_mark_cancelled,
    outbox_mark_failed,
    outbox_mark_sent,
)
from handoffs.services.breaches import (
    escalation_notify,
    escalations_committed,
    handoffs_sla_sweep,
)
from handoffs.services.ownership import handoffs_auto_assign_waiting
from portal.outage import retry_while_unreachable

log = logging.getLogger("baton.outbox")


@shared_task(name="handoffs.tasks.outbox_deliver", ignore_result=True)
def outbox_deliver(entry_id: int) -> str:
    """Deliver one entry. Safe to run twice: only the holder of the lease sends."""
    entry = outbox_claim(entry_id=entry_id)
    if entry is None:
        return "skipped"
    if outbox_held_for_human(entry=entry):
        outbox_mark_cancelled(entry=entry)
        return "cancelled"
    try:
        backend = backend_for(entry.channel)
        sent_id = backend.send(entry)  # slow I/O: outside any transaction
    except DeliveryError as exc:
        # A permanent refusal (an invalid number) fails now; anything else backs off.
        attempts = 1 if exc.permanent else settings.OUTBOX_MAX_ATTEMPTS
        outbox_mark_failed(entry=entry, error=str(exc), max_attempts=attempts)
        return "failed"
    except Exception as exc:
        log.exception("delivery of outbox entry %s crashed", entry_id)
        outbox_mark_failed(
            entry=entry,
            error=f"{type(exc).__name__}: {exc}",
            max_attempts=settings.OUTBOX_MAX_ATTEMPTS,
        )
        return "failed"
    # Sent: record it even across a short database outage (else the sweep sends it again).
    retry_while_unreachable(
        partial(outbox_mark_sent, entry=entry, backend=backend.name, provider_message_id=sent_id),
        until=entry.lease_until,
    )
    return "sent"


@shared_task(name="handoffs.tasks.outbox_sweep", ignore_result=True)
def outbox_sweep(limit: int = 500) -> int:
    """Re-send what is due: retries after back-off, and entries whose task was lost (broker down
    at enqueue time, worker killed mid-send once its lease expires).

    Each entry handed to a task is marked with a lease (still queued: any task may claim it), so
    the next sweeps leave it alone until that expires: with a backlog in the queue, sweeping
    every few seconds must not enqueue the same entries again each time (a storm of tasks that
    only find the entry taken)."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            OutboxEntry.objects.select_for_update(skip_locked=True)
            .filter(
                status__in=[OutboxStatus.QUEUED, OutboxStatus.SENDING], next_attempt_at__lte=now
            )
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        OutboxEntry.objects.filter(id__in=due).update(
            status=OutboxStatus.QUEUED,
            lease_until=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
        )
    for entry_id in due:
        outbox_deliver(entry_id) if settings.CELERY_TASK_ALWAYS_EAGER else outbox_deliver.delay(
            entry_id
        )
    return len(due)


@shared_task(name="handoffs.tasks.assignment_sweep", ignore_result=True)
def assignment_sweep(team_ids: list[int] | None = None) -> int:
    """Give waiting handoffs in auto-assigning teams to eligible people, oldest first: on beat,
    after a raise in such a team, and when someone sets themselves available. A lost or
    duplicated run is harmless: the next one catches up, and each assignment is a
    compare-and-swap."""
    return handoffs_auto_assign_waiting(team_ids=team_ids)


@shared_task(name="handoffs.tasks.sla_sweep", ignore_result=True)
def sla_sweep() -> int:
    """Flag handoffs past a due time and escalate them per their team's SLA policy, on beat and
    the embedded timer (docs/sla.md). Safe to run twice at once: each flag and escalation is a
    compare-and-swap, so a handoff is escalated once."""
    return handoffs_sla_sweep().breached


@shared_task(
    name="handoffs.tasks.sla_escalation_notify",
    ignore_result=True,
    autoretry_for=(OSError,),  # the mail server down or refusing: SMTPException is an OSError
    retry_backoff=30,
    max_retries=5,
)
def sla_escalation_notify(*, handoff_id: int, user_ids: list[int]) -> int:
    """Email the lead(s) a breach was escalated to; sent after the sweep's commit."""
    return escalation_notify(handoff_id=handoff_id, user_ids=user_ids)


@shared_task(
    name="handoffs.tasks.sla_escalations_notify", bind=True, ignore_result=True, max_retries=15
)
def sla_escalations_notify(self: Any, *, event_ids: list[int], notices: list[Any]) -> int:
    """One sweep batch's alerts, queued from inside its transaction (services/breaches.py):
    once the batch's Escalated events are committed, one `sla_escalation_notify` per handoff;
    if they never appear, the batch rolled back and a later sweep sends its own."""
    if not escalations_committed(event_ids=event_ids):
        if self.request.retries >= self.max_retries:
            log.info("SLA alerts for events %s dropped: their sweep batch rolled back", event_ids)
            return 0
        raise self.retry(countdown=2)
    for handoff_id, user_ids in notices:
        sla_escalation_notify.delay(handoff_id=handoff_id, user_ids=user_ids)
    return len(notices)
