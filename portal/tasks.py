from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.models import Event, EventLogState


@shared_task(name="portal.tasks.event_log_prune", ignore_result=True)
def event_log_prune() -> int:
    """Drop log entries past retention, remembering the highest seq dropped so a client asking
    for older events is told to reset instead of silently missing them."""
    cutoff = timezone.now() - timedelta(days=settings.EVENT_LOG_RETENTION_DAYS)
    with transaction.atomic():
        newest_old = (
            Event.objects.filter(created_at__lt=cutoff).order_by("-id").values_list("id", flat=True)
        ).first()
        if newest_old is None:
            return 0
        state, _ = EventLogState.objects.select_for_update().get_or_create(pk=1)
        state.pruned_through = max(state.pruned_through, newest_old)
        state.save(update_fields=["pruned_through"])
        deleted, _ = Event.objects.filter(id__lte=newest_old).delete()
    return deleted
