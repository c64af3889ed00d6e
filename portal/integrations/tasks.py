"""Celery tasks for integrations out: ids in, a service call, retries owned by the delivery
table (outbound.py) rather than by Celery, so they survive a lost task or a restarted broker."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.integrations.outbound import deliver, lease_seconds
from portal.integrations.outbound_events import outbound_dispatch_log
from portal.integrations.outbound_models import DUE_STATUSES, DeliveryStatus, OutboundDelivery


@shared_task(name="portal.integrations.tasks.outbound_deliver", ignore_result=True)
def outbound_deliver(delivery_pk: int) -> str:
    """Send one delivery. Safe to run twice, or twice at once: only the lease holder sends."""
    return deliver(delivery_pk=delivery_pk)


@shared_task(name="portal.integrations.tasks.outbound_dispatch", ignore_result=True)
def outbound_dispatch() -> int:
    """Turn new event-log entries into deliveries and send them."""
    created = outbound_dispatch_log()
    _send(created)
    return len(created)


@shared_task(name="portal.integrations.tasks.outbound_sweep", ignore_result=True)
def outbound_sweep(limit: int = 500) -> int:
    """On beat (and the embedded timer): dispatch the log, then send what is due — retries
    after their back-off, and deliveries whose task was lost or whose worker died holding the
    lease (once it expires)."""
    outbound_dispatch()
    now = timezone.now()
    with transaction.atomic():
        due = list(
            OutboundDelivery.objects.select_for_update(skip_locked=True)
            .filter(status__in=DUE_STATUSES, next_attempt_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        # Handed to a task: the next sweeps leave these alone until the mark expires, so a
        # backlog in the queue is not enqueued again on every sweep (handoffs/tasks.py).
        # One whose worker died mid-send (lease expired) is retrying: its outcome is unknown.
        OutboundDelivery.objects.filter(pk__in=due, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.RETRYING
        )
        handed = now + timedelta(seconds=lease_seconds())
        OutboundDelivery.objects.filter(pk__in=due).update(lease_until=handed)
    _send(due)
    return len(due)


def _send(pks: list[int]) -> None:
    for pk in pks:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            outbound_deliver(pk)
        else:
            outbound_deliver.delay(pk)


@shared_task(name="portal.integrations.tasks.outbound_prune", ignore_result=True)
def outbound_prune(batch: int = 5000) -> int:
    """Hourly: forget deliveries delivered more than BATON_OUTBOUND_RETENTION_DAYS ago (dead
    letters stay until someone redelivers them). The event log they came from is pruned after
    a week, so no dispatcher can make them again."""
    cutoff = timezone.now() - timedelta(days=settings.BATON_OUTBOUND_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(
            OutboundDelivery.objects.filter(
                status=DeliveryStatus.DELIVERED, delivered_at__lt=cutoff
            ).values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += OutboundDelivery.objects.filter(pk__in=ids).delete()[0]
