"""The outbox: every outbound message is persisted with its delivery row, then delivered by a
task (handoffs/tasks.py) holding a lease, retried with back-off, and its status shown."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from handoffs.choices import ACTIVE_STATUSES, OutboxStatus
from handoffs.models import Handoff, Message, OutboxEntry
from portal.integrations.outbound_events import message_events_record
from portal.realtime import poke_on_commit


def outbox_enqueue(
    *, message: Message, to_address: str, due_at: datetime | None = None
) -> OutboxEntry:
    """Persist the delivery with the message; the task is sent only after commit. A later
    `due_at` defers it: the task finds the entry not yet due and the outbox sweep sends it then
    (its lease makes that happen once)."""
    from handoffs.tasks import outbox_deliver  # tasks import this module

    now = timezone.now()
    entry = OutboxEntry.objects.create(
        message=message,
        channel=message.channel,
        to_address=to_address,
        next_attempt_at=max(now, due_at) if due_at is not None else now,
    )
    transaction.on_commit(lambda: outbox_deliver.delay(entry.pk), robust=True)
    return entry


def outbox_claim(*, entry_id: int, lease_seconds: int | None = None) -> OutboxEntry | None:
    """Take the lease on a due entry. Race prevented: two workers (a retry and the sweep) both
    picking it up; only the one whose compare-and-swap matches may send. A worker killed while
    holding it leaves the entry to the sweep once the lease (OUTBOX_LEASE_SECONDS) expires."""
    if lease_seconds is None:
        lease_seconds = settings.OUTBOX_LEASE_SECONDS
    now = timezone.now()
    won = (
        OutboxEntry.objects.filter(id=entry_id, next_attempt_at__lte=now)
        .filter(status__in=[OutboxStatus.QUEUED, OutboxStatus.SENDING])
        # A queued entry's lease is only the sweep's hand-over mark (outbox_sweep): any task
        # may claim it. A sending one's is a worker's, respected until it expires.
        .filter(Q(status=OutboxStatus.QUEUED) | ~Q(lease_until__gt=now))
        .update(
            status=OutboxStatus.SENDING,
            lease_until=now + timedelta(seconds=lease_seconds),
        )
    )
    if won != 1:
        return None
    return OutboxEntry.objects.select_related("message__conversation").get(id=entry_id)


def outbox_held_for_human(*, entry: OutboxEntry) -> bool:
    """Checked at send time, not only when composed: an automated message does not go out while
    a person holds the contact — unless it is part of that very handover (the booking link sent
    as a qualification handoff is raised is linked to it)."""
    message = entry.message
    if not message.automated:
        return False
    return (
        Handoff.objects.filter(
            contact_id=message.conversation.contact_id, status__in=ACTIVE_STATUSES
        )
        .exclude(pk=message.handoff_id)
        .exists()
    )


def outbox_mark_cancelled(*, entry: OutboxEntry) -> None:
    OutboxEntry.objects.filter(
        id=entry.pk, status=OutboxStatus.SENDING, lease_until=entry.lease_until
    ).update(status=OutboxStatus.CANCELLED, lease_until=None, last_error="a person took over")
    _poke_conversation(entry)


# The lease doubles as the holder's token: a worker whose lease expired (and was taken over by
# the sweep) can no longer record a result over the new holder's.


def outbox_mark_sent(*, entry: OutboxEntry, backend: str, provider_message_id: str) -> None:
    won = OutboxEntry.objects.filter(
        id=entry.pk, status=OutboxStatus.SENDING, lease_until=entry.lease_until
    ).update(
        status=OutboxStatus.SENT,
        sent_at=timezone.now(),
        attempts=entry.attempts + 1,
        lease_until=None,
        backend=backend,
        provider_message_id=provider_message_id[:200],
        last_error="",
    )
    if won:
        message_events_record("message.sent", [entry.message_id])
    _poke_conversation(entry)


def outbox_mark_failed(*, entry: OutboxEntry, error: str, max_attempts: int) -> None:
    """Back off exponentially (30 s, 60 s, 2 min, …); give up after `max_attempts`."""
    attempts = entry.attempts + 1
    final = attempts >= max_attempts
    won = OutboxEntry.objects.filter(
        id=entry.pk, status=OutboxStatus.SENDING, lease_until=entry.lease_until
    ).update(
        status=OutboxStatus.FAILED if final else OutboxStatus.QUEUED,
        attempts=attempts,
        lease_until=None,
        last_error=error[:500],
        next_attempt_at=timezone.now() + timedelta(seconds=30 * 2 ** (attempts - 1)),
    )
    if won and final:
        message_events_record("message.failed", [entry.message_id])
    _poke_conversation(entry)


def _poke_conversation(entry: OutboxEntry) -> None:
    handoff = entry.message.handoff
    if handoff is not None:
        poke_on_commit(team_id=handoff.team_id, seq=None, handoff_id=handoff.pk)
