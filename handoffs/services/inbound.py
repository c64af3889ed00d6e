"""Messages from contacts: stored once, threaded into the conversation, triaged (sentiment,
questions and the FAQ: handoffs/triage/), waking (or reopening) the handoff they answer and the
journeys waiting for a reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, When
from django.utils import timezone

from handoffs.choices import (
    ACTIVE_STATUSES,
    Direction,
    HandoffEventKind,
    HandoffStatus,
)
from handoffs.models import Conversation, Handoff, HandoffEvent, Message
from handoffs.services.clocks import clock_on_contact_message
from handoffs.services.common import _announce, _fresh
from handoffs.services.replies import conversation_for
from handoffs.triage.services import message_triage
from journeys.models import Contact
from journeys.services import (
    account_upsert,
    contact_upsert,
    enrollments_pause_for_contact,
)
from portal.choices import EventType
from portal.errors import Conflict
from portal.integrations.outbound_events import message_events_record
from portal.realtime import lock_event_seq


@dataclass(frozen=True)
class Received:
    id: int
    duplicate: bool


@dataclass(frozen=True)
class InboundMessage:
    contact: dict[str, Any]
    account: dict[str, Any] | None
    channel: str
    body: str
    external_id: str | None


@transaction.atomic
def message_receive(*, message: InboundMessage) -> Received:
    """A contact wrote to us. Stored once per (channel, external_id); threads into the contact's
    conversation, which then replies on this channel; wakes the handoff that is waiting on the
    contact, or reopens one resolved within the team's reopen window. Then triage reads it in
    the same transaction (so a 202 means it happened; a duplicate is not triaged again): with no
    handoff under way, an angry, confused or opt-out reply or an unanswerable question goes to a
    person, and an FAQ question is answered by the bot."""
    if message.external_id:
        existing = Message.objects.filter(
            channel=message.channel, external_id=message.external_id
        ).first()
        if existing is not None:
            if existing.body != message.body:
                raise Conflict("This external_id was already used with a different message.")
            return Received(id=existing.pk, duplicate=True)
    account = (
        account_upsert(external_id=message.account["external_id"], name=message.account.get("name"))
        if message.account
        else None
    )
    contact = contact_upsert(
        external_id=message.contact["external_id"], fields=message.contact, account=account
    )
    Contact.objects.filter(pk=contact.pk).update(last_inbound_channel=message.channel)
    lock_event_seq()  # after the people rows, before any handoff row (portal/realtime.py)
    conversation = conversation_for(contact)
    Conversation.objects.filter(pk=conversation.pk).update(channel=message.channel)
    handoff = _handoff_for_reply(contact)
    try:
        with transaction.atomic():
            stored = Message.objects.create(
                conversation=conversation,
                handoff=handoff,
                direction=Direction.IN,
                channel=message.channel,
                body=message.body,
                external_id=message.external_id,
            )
    except IntegrityError:  # the same message delivered concurrently: the first one won
        existing = Message.objects.get(channel=message.channel, external_id=message.external_id)
        transaction.set_rollback(True)  # a duplicate changes nothing (not even the contact)
        return Received(id=existing.pk, duplicate=True)
    if handoff is not None:
        _wake_for_reply(handoff, stored)
    message_triage(message=stored, contact=contact, handoff=handoff)
    message_events_record("message.received", [stored.pk])
    from journeys.tasks import enrollments_hear_reply  # journeys import this module

    transaction.on_commit(lambda: enrollments_hear_reply.delay(stored.pk), robust=True)
    return Received(id=stored.pk, duplicate=False)


def _handoff_for_reply(contact: Contact) -> Handoff | None:
    """The active handoff the reply belongs to, else one resolved within its reopen window."""
    # A reply most likely answers whoever wrote last: prefer a handoff waiting on the contact,
    # then the most recently active one.
    active = (
        Handoff.objects.select_for_update(of=("self",))
        .filter(contact=contact, status__in=ACTIVE_STATUSES)
        .order_by(
            Case(When(status=HandoffStatus.WAITING_ON_CONTACT, then=0), default=1),
            "-updated_at",
        )
        .first()
    )
    if active is not None:
        return active
    latest = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("team")
        .filter(contact=contact, status=HandoffStatus.RESOLVED)
        .order_by("-resolved_at")
        .first()
    )
    if latest is None or latest.resolved_at is None:
        return None
    window = timedelta(minutes=latest.team.reopen_window_minutes)
    if timezone.now() - latest.resolved_at > window:
        return None
    if Handoff.objects.filter(
        contact=contact, trigger=latest.trigger, status__in=ACTIVE_STATUSES
    ).exists():
        return None
    return latest


def _wake_for_reply(handoff: Handoff, message: Message) -> None:
    kind = HandoffEventKind.CONTACT_REPLIED
    if handoff.status == HandoffStatus.RESOLVED:
        kind = HandoffEventKind.REOPENED
        handoff.status = HandoffStatus.CLAIMED if handoff.assignee_id else HandoffStatus.OPEN
        handoff.resolved_at = None
        handoff.resume_automation = None
        enrollments_pause_for_contact(
            contact_id=handoff.contact_id, reason=f"Handoff #{handoff.pk} reopened by a reply"
        )
    elif handoff.status == HandoffStatus.WAITING_ON_CONTACT:
        handoff.status = HandoffStatus.CLAIMED
    # The SLA clock resumes, and the next reply falls due (docs/sla.md).
    clock = clock_on_contact_message(
        handoff=handoff, now=timezone.now(), reopened=kind == HandoffEventKind.REOPENED
    )
    handoff.save(update_fields=["status", "resolved_at", "resume_automation", "updated_at", *clock])
    HandoffEvent.objects.create(
        handoff=handoff, kind=kind, data={"message_id": message.pk, "channel": message.channel}
    )
    _announce([_fresh(handoff.pk)], EventType.HANDOFF_UPDATED)
