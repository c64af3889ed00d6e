"""Replying to the contact: the channel a reply goes out on, the signature, the reply itself
(through the outbox) and the contact's one conversation.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from handoffs.choices import (
    Channel,
    Direction,
    HandoffEventKind,
    HandoffStatus,
)
from handoffs.models import Conversation, HandoffEvent, Message
from handoffs.outbox import outbox_enqueue
from handoffs.payloads import display_name
from handoffs.presence import reply_lock_held_by_other
from handoffs.services.clocks import clock_on_human_reply
from handoffs.services.common import _announce, _blocked_by, _locked
from handoffs.services.presence import ReplyLocked, reply_lock_release
from journeys.models import Contact
from portal.choices import EventType
from portal.errors import Conflict, InvalidInput
from portal.models import Team

MAX_REPLY_CHARS = 5000


def reply_route(contact: Contact) -> tuple[str, str]:
    """The conversation's channel: the last inbound one, else email if known, else SMS.
    Channels the contact opted out of are skipped."""
    opted_out = set(contact.opted_out_channels or [])
    addresses = {
        Channel.EMAIL: contact.email,
        Channel.SMS: contact.phone,
        Channel.WHATSAPP: contact.phone,
        Channel.CHAT: contact.external_id,
    }
    candidates = [contact.last_inbound_channel] if contact.last_inbound_channel else []
    candidates += [Channel.EMAIL, Channel.SMS]
    for channel in candidates:
        if channel and channel not in opted_out and addresses.get(channel):
            return channel, addresses[channel]
    raise InvalidInput(
        f"{contact.display_name} has no email or phone we may write to",
        {"contact": ["no reachable channel (missing address, or opted out)"]},
    )


def signature_line(user: Any, team: Team) -> str:
    return f"— {display_name(user)}, {team.name} team"


@transaction.atomic
def handoff_reply(*, handoff_id: int, user: Any, body: str, over_lock: bool = True) -> Message:
    """Send a human reply in the contact's conversation, through the outbox.

    Replying to an unclaimed handoff claims it; the first human reply is signed with the
    replier's name (transparency: the contact knows a person has taken over).

    While someone else holds the soft reply lock ("Riley is replying…"), `over_lock=False`
    refuses with ReplyLocked (the composer asks "send anyway?"); `over_lock=True`, the default
    for callers that know nothing of the lock (the API), sends and records on the REPLIED event
    whose lock it went over. Sending releases the sender's own lock."""
    text = (body or "").strip()
    if not text:
        raise InvalidInput("Write a reply first", {"body": ["This field may not be blank."]})
    if len(text) > MAX_REPLY_CHARS:
        raise InvalidInput("Reply too long", {"body": [f"At most {MAX_REPLY_CHARS} characters."]})
    handoff = _locked(handoff_id)
    if handoff.status == HandoffStatus.RESOLVED:
        raise Conflict("This handoff is resolved")
    if handoff.assignee_id not in (None, user.pk):
        raise Conflict(_blocked_by(handoff))
    # Checked under the handoff row lock; the lock itself is soft (a person typing as this
    # commits is not refused), so no stronger ordering is needed.
    other_lock = reply_lock_held_by_other(
        handoff_id=handoff.pk, user=user, assignee_id=handoff.assignee_id
    )
    if other_lock is not None and not over_lock:
        raise ReplyLocked(other_lock.holder)
    now = timezone.now()
    channel, address = reply_route(handoff.contact)
    first_from_user = not Message.objects.filter(
        handoff=handoff, direction=Direction.OUT, author=user
    ).exists()
    if first_from_user:
        text = f"{text}\n\n{signature_line(user, handoff.team)}"
    conversation = conversation_for(handoff.contact)
    message = Message.objects.create(
        conversation=conversation,
        handoff=handoff,
        direction=Direction.OUT,
        channel=channel,
        body=text,
        automated=False,
        author=user,
    )
    outbox_enqueue(message=message, to_address=address)
    if handoff.assignee_id is None:
        handoff.assignee = user
        handoff.claimed_at = now
        HandoffEvent.objects.create(handoff=handoff, kind=HandoffEventKind.CLAIMED, actor=user)
    handoff.status = HandoffStatus.WAITING_ON_CONTACT
    handoff.first_responded_at = handoff.first_responded_at or now
    clock = clock_on_human_reply(handoff=handoff, now=now)  # next reply met; maybe pause
    handoff.save(
        update_fields=[
            "assignee",
            "claimed_at",
            "status",
            "first_responded_at",
            "updated_at",
            *clock,
        ]
    )
    data: dict[str, Any] = {"message_id": message.pk, "channel": channel}
    if other_lock is not None:  # audited: the history shows whose reply this went over
        data["over_lock"] = {"holder": display_name(other_lock.holder), "id": other_lock.holder_id}
    HandoffEvent.objects.create(
        handoff=handoff, kind=HandoffEventKind.REPLIED, actor=user, data=data
    )
    reply_lock_release(handoff_id=handoff.pk, user=user)
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return message


def conversation_for(contact: Contact) -> Conversation:
    conversation = Conversation.objects.filter(contact=contact).first()
    if conversation is not None:
        return conversation
    try:
        with transaction.atomic():
            return Conversation.objects.create(contact=contact)
    except IntegrityError:  # created concurrently
        return Conversation.objects.get(contact=contact)


def automated_message_queue(
    *,
    contact: Contact,
    body: str,
    route: tuple[str, str] | None = None,
    subject: str = "",
    handoff: Any = None,
    enrollment: Any = None,
    step: str = "",
    author: Any = None,
    due_at: Any = None,
) -> Message:
    """An automated message in the contact's conversation, persisted with its outbox entry.
    `route` is (channel, address), else the conversation's (`reply_route`); a message tied to a
    handoff (a holding or after-hours reply) is part of it, so the send-time "a person has the
    contact" check does not hold it back; `due_at` defers it."""
    channel, address = route if route is not None else reply_route(contact)
    message = Message.objects.create(
        conversation=conversation_for(contact),
        handoff=handoff,
        direction=Direction.OUT,
        channel=channel,
        subject=subject[:200],
        body=body,
        automated=True,
        enrollment=enrollment,
        step=step[:50],
        author=author,
    )
    outbox_enqueue(message=message, to_address=address, due_at=due_at)
    return message
