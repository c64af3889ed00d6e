"""Every state change of a handoff, its conversation and its outbox. Each service writes its
audit row in the same transaction and announces the change only after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, When
from django.utils import timezone

from handoffs.choices import (
    ACTIVE_STATUSES,
    Channel,
    Direction,
    HandoffEventKind,
    HandoffStatus,
)
from handoffs.models import Conversation, Handoff, HandoffEvent, Message
from handoffs.outbox import outbox_enqueue
from handoffs.payloads import display_name, handoff_as_dict
from journeys.models import Contact, HandoffRule, Signal
from journeys.services import (
    account_upsert,
    contact_upsert,
    enrollments_pause_for_contact,
    enrollments_resume_for_contact,
)
from portal.choices import EventType
from portal.errors import Conflict, InvalidInput
from portal.models import Team
from portal.realtime import NewEvent, events_append, lock_event_seq

MAX_REPLY_CHARS = 5000
MAX_EVIDENCE_ITEMS = 200


@dataclass(frozen=True)
class RaiseRequest:
    contact: Contact
    team: Team
    trigger: str
    priority: str
    reason: str
    evidence: dict[str, Any]
    rule: HandoffRule | None = None
    signal: Signal | None = None
    offered_to_role: str = ""
    first_response_minutes: int | None = None  # a human step's own SLA beats the team default


def _fresh(handoff_id: int) -> Handoff:
    return Handoff.objects.select_related("team", "contact", "assignee").get(id=handoff_id)


def _locked(handoff_id: int) -> Handoff:
    lock_event_seq()  # lock order: the event log before any handoff row (portal/realtime.py)
    # of=("self",): the nullable assignee join cannot be locked on PostgreSQL.
    return (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("team", "contact", "assignee")
        .get(id=handoff_id)
    )


def _announce(handoffs: list[Handoff], event_type: str) -> None:
    events_append(
        NewEvent(type=event_type, team_id=h.team_id, handoff_id=h.pk, payload=handoff_as_dict(h))
        for h in handoffs
    )


def _blocked_by(handoff: Handoff) -> str:
    return f"Already claimed by {display_name(handoff.assignee)}" if handoff.assignee else ""


@transaction.atomic
def handoff_raise(*, request: RaiseRequest) -> tuple[Handoff, bool]:
    """Raise a handoff, or attach the evidence to the contact's active one for this trigger.

    Race prevented: two signals for one contact arriving together. The partial unique index
    `handoff_one_active_per_contact_trigger` lets exactly one insert win; the other attaches."""
    lock_event_seq()
    for _ in range(3):
        existing = (
            Handoff.objects.select_for_update(of=("self",))
            .select_related("team", "contact", "assignee")
            .filter(contact=request.contact, trigger=request.trigger, status__in=ACTIVE_STATUSES)
            .first()
        )
        if existing is not None:
            return _attach_evidence(existing, request), False
        now = timezone.now()
        try:
            with transaction.atomic():
                handoff = Handoff.objects.create(
                    team=request.team,
                    contact=request.contact,
                    trigger=request.trigger,
                    priority=request.priority,
                    reason=request.reason[:600],
                    evidence=[request.evidence],
                    offered_to_role=request.offered_to_role,
                    rule=request.rule,
                    signal=request.signal,
                    created_at=now,
                    first_response_due_at=now
                    + timedelta(
                        minutes=request.first_response_minutes
                        or request.team.first_response_minutes
                    ),
                )
        except IntegrityError:
            continue  # lost the race: the winner's row is committed now; attach to it
        HandoffEvent.objects.create(
            handoff=handoff, kind=HandoffEventKind.CREATED, data={"reason": handoff.reason}
        )
        # The journey line is shared context for every team: who has the baton, not why.
        enrollments_pause_for_contact(
            contact_id=request.contact.pk, reason=f"the {request.team.name} team has the baton"
        )
        handoff.assignee = None
        _announce([handoff], EventType.HANDOFF_CREATED)
        return handoff, True
    raise Conflict("Could not raise or attach the handoff; try again.")


def _attach_evidence(handoff: Handoff, request: RaiseRequest) -> Handoff:
    evidence = [*handoff.evidence, request.evidence][-MAX_EVIDENCE_ITEMS:]
    Handoff.objects.filter(pk=handoff.pk).update(evidence=evidence, updated_at=timezone.now())
    HandoffEvent.objects.create(
        handoff=handoff, kind=HandoffEventKind.EVIDENCE_ADDED, data=request.evidence
    )
    handoff = _fresh(handoff.pk)
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


@transaction.atomic
def handoff_claim(*, handoff_id: int, user: Any) -> Handoff:
    """Give an open handoff to `user`. Exactly one concurrent caller wins; the rest get Conflict.

    Race prevented: two reps clicking Claim together. The compare-and-swap UPDATE only matches
    an unassigned open row, so the database picks one winner."""
    lock_event_seq()
    won = Handoff.objects.filter(id=handoff_id, assignee=None, status=HandoffStatus.OPEN).update(
        assignee=user,
        status=HandoffStatus.CLAIMED,
        claimed_at=timezone.now(),
        updated_at=timezone.now(),
    )
    handoff = _fresh(handoff_id)
    if won != 1:
        if handoff.assignee_id == user.pk:
            return handoff  # claiming your own handoff again is a no-op, not a conflict
        if handoff.status == HandoffStatus.RESOLVED:
            raise Conflict("This handoff is resolved")
        raise Conflict(_blocked_by(handoff) or f"This handoff is {handoff.get_status_display()}")
    HandoffEvent.objects.create(handoff=handoff, kind=HandoffEventKind.CLAIMED, actor=user)
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


@transaction.atomic
def handoff_release(*, handoff_id: int, user: Any, may_override: bool = False) -> Handoff:
    """Put a claimed handoff back in the team pool: its owner, or a lead (`may_override`)."""
    handoff = _locked(handoff_id)
    if handoff.status == HandoffStatus.RESOLVED or handoff.assignee_id is None:
        raise Conflict("Only a claimed handoff can be released")
    _owner_or_override(handoff, user, may_override)
    previous = handoff.assignee
    handoff.assignee = None
    handoff.status = HandoffStatus.OPEN
    handoff.claimed_at = None
    handoff.save(update_fields=["assignee", "status", "claimed_at", "updated_at"])
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=HandoffEventKind.RELEASED,
        actor=user,
        data={"from": previous.username if previous else None},
    )
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


@transaction.atomic
def handoff_reassign(*, handoff_id: int, user: Any, assignee: Any) -> Handoff:
    """A lead gives the handoff to someone on the team (the caller checked both)."""
    handoff = _locked(handoff_id)
    if handoff.status == HandoffStatus.RESOLVED:
        raise Conflict("This handoff is resolved")
    previous = handoff.assignee
    handoff.assignee = assignee
    if handoff.status == HandoffStatus.OPEN:
        handoff.status = HandoffStatus.CLAIMED
    handoff.claimed_at = timezone.now()
    handoff.save(update_fields=["assignee", "status", "claimed_at", "updated_at"])
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=HandoffEventKind.REASSIGNED,
        actor=user,
        data={"from": previous.username if previous else None, "to": assignee.username},
    )
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


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
def handoff_reply(*, handoff_id: int, user: Any, body: str) -> Message:
    """Send a human reply in the contact's conversation, through the outbox.

    Replying to an unclaimed handoff claims it; the first human reply is signed with the
    replier's name (transparency: the contact knows a person has taken over)."""
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
    handoff.save(
        update_fields=["assignee", "claimed_at", "status", "first_responded_at", "updated_at"]
    )
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=HandoffEventKind.REPLIED,
        actor=user,
        data={"message_id": message.pk, "channel": channel},
    )
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return message


def _owner_or_override(handoff: Handoff, user: Any, may_override: bool) -> None:
    """Checked under the row lock: a claim that landed after the caller looked still counts."""
    if handoff.assignee_id not in (None, user.pk) and not may_override:
        raise Conflict(_blocked_by(handoff))


@transaction.atomic
def handoff_resolve(
    *,
    handoff_id: int,
    user: Any,
    resolution: str,
    resume_automation: bool,
    may_override: bool = False,
) -> Handoff:
    """Close the handoff; with `resume_automation` the contact's paused journeys carry on, unless
    another handoff still holds the contact."""
    handoff = _locked(handoff_id)
    if handoff.status == HandoffStatus.RESOLVED:
        raise Conflict("This handoff is already resolved")
    _owner_or_override(handoff, user, may_override)
    now = timezone.now()
    handoff.status = HandoffStatus.RESOLVED
    handoff.resolution = (resolution or "").strip()[:2000]
    handoff.resume_automation = resume_automation
    handoff.resolved_at = now
    if handoff.assignee_id is None:
        handoff.assignee = user
        handoff.claimed_at = now
    handoff.save(
        update_fields=[
            "status",
            "resolution",
            "resume_automation",
            "resolved_at",
            "assignee",
            "claimed_at",
            "updated_at",
        ]
    )
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=HandoffEventKind.RESOLVED,
        actor=user,
        data={"resolution": handoff.resolution, "resume_automation": resume_automation},
    )
    if resume_automation:
        still_held = Handoff.objects.filter(
            contact_id=handoff.contact_id, status__in=ACTIVE_STATUSES
        ).exists()
        if not still_held:
            enrollments_resume_for_contact(
                contact_id=handoff.contact_id,
                actor=user,
                reason=f"Handoff #{handoff.pk} resolved by {display_name(user)}",
            )
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


def conversation_for(contact: Contact) -> Conversation:
    conversation = Conversation.objects.filter(contact=contact).first()
    if conversation is not None:
        return conversation
    try:
        with transaction.atomic():
            return Conversation.objects.create(contact=contact)
    except IntegrityError:  # created concurrently
        return Conversation.objects.get(contact=contact)


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
    contact, or reopens one resolved within the team's reopen window."""
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
    handoff.save(update_fields=["status", "resolved_at", "resume_automation", "updated_at"])
    HandoffEvent.objects.create(
        handoff=handoff, kind=kind, data={"message_id": message.pk, "channel": message.channel}
    )
    _announce([_fresh(handoff.pk)], EventType.HANDOFF_UPDATED)
