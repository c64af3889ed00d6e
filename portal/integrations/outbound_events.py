"""Turning events into outbound deliveries (one per webhook subscriber, and per team notification
channel for handoffs).

- `handoff.*` come from the durable event log (portal.models.Event) through a cursor: nothing on
  the handoff write paths changes, and since seq order is commit order (portal/realtime.py) the
  cursor never skips an event; a crash anywhere only delays them.
- `enrollment.*` and `message.*` are recorded where they happen by one-line hooks
  (`enrollment_events_record`, `message_events_record`) that write the deliveries in the caller's
  transaction: they commit with the change or roll back with it, and are sent once it commits. A
  process that dies in between leaves them due, and the outbound sweep sends them. The write path
  pays one query when no subscriber wants the type.

Either way each delivery is persisted before it is sent, once per receiver and event (a unique
key), then handed to portal/integrations/tasks.py."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.integrations.outbound_models import (
    DeliveryKind,
    NotificationChannel,
    OutboundCursor,
    OutboundDelivery,
    WebhookSubscription,
)
from portal.memo import per_scope
from portal.models import Event
from portal.timefmt import iso

log = logging.getLogger("baton.outbound")

DISPATCH_PAGE = 500


@dataclass(frozen=True)
class OutboundEvent:
    """`id` is the event's identity, the same for every receiver (`seq-123` for the event log's
    entries, a UUID for the others); `seq` only for handoff events (the live stream's seq)."""

    id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]
    team_id: int | None = None
    seq: int | None = None


def envelope(event: OutboundEvent) -> dict[str, Any]:
    """A webhook's body (docs/api.md, "Outbound webhooks")."""
    body: dict[str, Any] = {
        "id": event.id,
        "type": event.type,
        "occurred_at": iso(event.occurred_at),
        "data": event.data,
    }
    if event.seq is not None:
        body["seq"] = event.seq
    return body


def deliveries_create(
    events: list[OutboundEvent], *, subscriptions: list[WebhookSubscription] | None = None
) -> list[int]:
    """Persist one delivery per receiver that wants each event; returns the ids of those newly
    made (a repeat of an event already delivered to a receiver makes nothing). Receivers get
    only events that happened after they were set up. `subscriptions`: the active ones, when
    the caller has already read them."""
    if not events:
        return []
    now = timezone.now()
    rows: dict[tuple[str, int, str], OutboundDelivery] = {}
    if subscriptions is None:
        subscriptions = list(WebhookSubscription.objects.filter(is_active=True))
    for subscription in subscriptions:
        for event in events:
            if subscription.wants(event.type) and event.occurred_at >= subscription.created_at:
                rows[("s", subscription.pk, event.id)] = OutboundDelivery(
                    kind=DeliveryKind.WEBHOOK,
                    subscription=subscription,
                    event_type=event.type,
                    event_key=event.id,
                    payload=envelope(event),
                    next_attempt_at=now,
                )
    for channel, notification in _notifications(events):
        rows.setdefault(
            ("c", channel.pk, notification.key),
            OutboundDelivery(
                kind=channel.kind,
                channel=channel,
                event_type=notification.event_type,
                event_key=notification.key,
                payload=notification.payload,
                next_attempt_at=now,
            ),
        )
    if not rows:
        return []
    # ignore_conflicts: a receiver already given this event (or this escalation) keeps the one
    # it has; the unique indexes settle even two dispatchers racing.
    OutboundDelivery.objects.bulk_create(rows.values(), ignore_conflicts=True)
    return list(
        OutboundDelivery.objects.filter(
            delivery_id__in=[row.delivery_id for row in rows.values()]
        ).values_list("pk", flat=True)
    )


def _notifications(events: list[OutboundEvent]) -> Iterable[tuple[Any, Any]]:
    from handoffs.models import Handoff
    from portal.integrations.notifications import notifications_for

    handoff_events = [e for e in events if e.type.startswith("handoff.") and e.team_id]
    if not handoff_events:
        return
    channels = list(
        NotificationChannel.objects.filter(
            is_active=True, team_id__in={e.team_id for e in handoff_events}
        )
    )
    if not channels:
        return
    properties = dict(
        Handoff.objects.filter(pk__in={e.data.get("id") for e in handoff_events}).values_list(
            "pk", "signal__properties"
        )
    )
    for event in handoff_events:
        for channel in channels:
            if event.occurred_at < channel.created_at:
                continue
            notification = notifications_for(
                channel=channel,
                event_type=event.type,
                team_id=event.team_id or 0,
                handoff=event.data,
                properties=properties.get(event.data.get("id")),
            )
            if notification is not None:
                yield channel, notification


# --- handoff.*: from the event log ---


def _cursor_locked() -> OutboundCursor:
    """The cursor row, locked: one dispatcher at a time. Made by the migration; re-made (from
    the start of the log) if it is missing, e.g. after a test flush."""
    cursor = OutboundCursor.objects.select_for_update().filter(pk=1).first()
    if cursor is not None:
        return cursor
    try:
        with transaction.atomic():
            OutboundCursor.objects.create(pk=1, event_seq=0)
    except IntegrityError:  # a concurrent dispatcher made it first
        pass
    return OutboundCursor.objects.select_for_update().get(pk=1)


def outbound_dispatch_log(*, page: int = DISPATCH_PAGE, max_pages: int = 20) -> list[int]:
    """Turn the event log past the cursor into deliveries, a page per transaction (the cursor
    moves in the same transaction as the deliveries it made). Returns the new deliveries."""
    created: list[int] = []
    for _ in range(max_pages):
        with transaction.atomic():
            cursor = _cursor_locked()
            entries = list(Event.objects.filter(id__gt=cursor.event_seq).order_by("id")[:page])
            if not entries:
                break
            created += deliveries_create(
                [
                    OutboundEvent(
                        id=f"seq-{entry.id}",
                        type=entry.type,
                        occurred_at=entry.created_at,
                        data=entry.payload,
                        team_id=entry.team_id,
                        seq=entry.id,
                    )
                    for entry in entries
                ]
            )
            OutboundCursor.objects.filter(pk=cursor.pk).update(event_seq=entries[-1].id)
        if len(entries) < page:
            break
    return created


def outbound_kick_on_commit() -> None:
    """After a handoff change commits, dispatch at once (the sweep would, within a beat) —
    once per transaction, however many handoffs it announced."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(entry[1] is _kick for entry in connection.run_on_commit):
        return
    transaction.on_commit(_kick, robust=True)


def _kick() -> None:
    from portal.integrations.tasks import outbound_dispatch

    outbound_dispatch.delay()


# --- enrollment.* and message.*: recorded where they happen ---


@per_scope
def _subscribers(event_type: str) -> list[WebhookSubscription]:
    """The active subscriptions, if any of them wants this type; otherwise none."""
    subscriptions = list(WebhookSubscription.objects.filter(is_active=True))
    return subscriptions if any(s.wants(event_type) for s in subscriptions) else []


def _record(events: list[OutboundEvent], subscriptions: list[WebhookSubscription]) -> None:
    """Write the deliveries now, in the caller's transaction; send them once it commits."""
    created = deliveries_create(events, subscriptions=subscriptions)
    if created:
        transaction.on_commit(lambda: _send_now(created), robust=True)


def _send_now(pks: list[int]) -> None:
    from portal.integrations.tasks import outbound_deliver

    for pk in pks:
        outbound_deliver.delay(pk)


def enrollment_events_record(
    event_type: str, enrollments: Iterable[Any], *, reason: str = "", status: str = ""
) -> None:
    """`enrollment.started|stage_changed|paused|resumed|completed|dropped` for these
    enrollments, recorded in the caller's transaction. Each payload is the enrollment as the
    caller leaves it (its stage, step and status — or `status`, when the caller moved the rows
    with an UPDATE)."""
    from journeys.models import Enrollment, Stage

    enrollments = list(enrollments)
    subscriptions = _subscribers(event_type) if enrollments else []
    if not subscriptions:
        return
    at = timezone.now()
    loaded = Enrollment.objects.select_related("contact", "journey").in_bulk(
        [e.pk for e in enrollments]
    )
    stages = Stage.objects.in_bulk({e.stage_id for e in enrollments if e.stage_id})
    events = []
    for enrollment in enrollments:
        stored = loaded.get(enrollment.pk)
        if stored is None:
            continue
        data = enrollment_as_dict(
            stored,
            stage=stages.get(enrollment.stage_id),
            status=str(status or enrollment.status),
            entered_at=enrollment.stage_entered_at,
        )
        data["step"] = enrollment.step or None
        if reason:
            data["reason"] = reason[:300]
        events.append(
            OutboundEvent(id=uuid.uuid4().hex, type=event_type, occurred_at=at, data=data)
        )
    _record(events, subscriptions)


def enrollment_as_dict(
    enrollment: Any, *, stage: Any, status: str, entered_at: datetime | None = None
) -> dict[str, Any]:
    contact = enrollment.contact
    journey = enrollment.journey
    return {
        "id": enrollment.pk,
        "status": status,
        "journey": {"id": journey.pk, "slug": journey.slug, "name": journey.name},
        "stage": (
            {"id": stage.pk, "name": stage.name, "loop_stage": stage.loop_stage}
            if stage is not None
            else None
        ),
        "contact": {"id": contact.pk, "external_id": contact.external_id, "name": contact.name},
        "enrolled_at": iso(enrollment.created_at),
        "stage_entered_at": iso(entered_at or enrollment.stage_entered_at),
    }


def message_events_record(event_type: str, message_ids: Iterable[int]) -> None:
    """`message.received|sent|failed` for these messages, recorded in the caller's
    transaction; the payload is the message as the caller leaves it (with its delivery
    status)."""
    from handoffs.models import Message

    ids = list(message_ids)
    subscriptions = _subscribers(event_type) if ids else []
    if not subscriptions:
        return
    at = timezone.now()
    messages = (
        Message.objects.filter(pk__in=ids)
        .select_related("conversation__contact", "author", "outbox")
        .order_by("id")
    )
    _record(
        [
            OutboundEvent(
                id=uuid.uuid4().hex, type=event_type, occurred_at=at, data=message_as_dict(m)
            )
            for m in messages
        ],
        subscriptions,
    )


def message_as_dict(message: Any) -> dict[str, Any]:
    from handoffs.models import OutboxEntry
    from handoffs.payloads import person

    contact = message.conversation.contact
    try:
        outbox = message.outbox
    except OutboxEntry.DoesNotExist:
        outbox = None
    return {
        "id": message.pk,
        "direction": message.direction,
        "channel": message.channel,
        "subject": message.subject or None,
        "body": message.body,
        "automated": message.automated,
        "author": person(message.author),
        "handoff_id": message.handoff_id,
        "enrollment_id": message.enrollment_id,
        "contact": {"id": contact.pk, "external_id": contact.external_id, "name": contact.name},
        "external_id": message.external_id,
        "created_at": iso(message.created_at),
        "delivery": (
            {
                "status": outbox.status,
                "to": outbox.to_address,
                "attempts": outbox.attempts,
                "sent_at": iso(outbox.sent_at),
                "provider_message_id": outbox.provider_message_id or None,
                "error": outbox.last_error or None,
            }
            if outbox is not None
            else None
        ),
    }
