"""What triage does with a decision (docs/triage.md): an angry, confused or opt-out message
takes the baton from automation at once (a sentiment handoff for the owning team's lead); a
question is answered from the FAQ or, when the FAQ cannot, gets the holding reply and a
complexity handoff; anything that fails on the way goes to a person as a manual handoff.

Runs inside `message_receive`'s transaction, after the message is stored, so a 202 means the
triage happened — and nothing it does can lose the message or fail the request.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from handoffs.choices import Direction, Priority, Trigger
from handoffs.models import FaqEntry, Handoff, Message, TriageSettings
from handoffs.services.raising import RaiseRequest, handoff_raise
from handoffs.services.replies import automated_message_queue, signature_line
from handoffs.triage.choices import FaqStatus, TriageLabel
from handoffs.triage.classify import Decision
from handoffs.triage.config import owning_team, triage_read, triage_settings
from handoffs.triage.plan import Plan, triage_plan
from journeys.models import Contact
from portal.choices import Role
from portal.errors import Conflict, InvalidInput
from portal.models import Membership, Team
from portal.timefmt import iso

log = logging.getLogger("baton.triage")


def message_triage(*, message: Message, contact: Contact, handoff: Handoff | None) -> None:
    """Label an inbound message and act on it. `handoff` is the handoff the message already
    belongs to (a person has the conversation): then the label is only recorded — and an
    opt-out is still honoured — but nothing new is raised."""
    # The caller's object holds only the fields this message carried (an upsert): read the
    # stored contact, whose addresses and opt-outs the replies and the opt-out depend on.
    contact = Contact.objects.get(pk=contact.pk)
    try:
        row = triage_settings()
        decision = triage_read(message.body, row=row, with_faq=handoff is None)
    except Exception as exc:
        log.exception("triage failed on message %s", message.pk)
        Message.objects.filter(pk=message.pk).update(triage=TriageLabel.ERROR)
        if handoff is None:
            _fail_safe(contact, message, f"triage could not read the message ({_named(exc)})")
        return
    Message.objects.filter(pk=message.pk).update(
        sentiment=decision.sentiment,
        triage=decision.label,
        triage_phrase=_decided_by(decision)[:200],
    )
    try:
        with transaction.atomic():
            plan = triage_plan(
                decision,
                text=message.body,
                channel_label=message.get_channel_display(),
                holding_reply=row.holding_reply,
                signature=row.assistant_signature,
                handoff_open=handoff is not None,
            )
            _carry_out(plan, row=row, contact=contact, message=message)
    except Exception as exc:
        log.exception("acting on triage of message %s failed", message.pk)
        if handoff is None:
            _fail_safe(contact, message, f"{decision.label} reply not handled ({_named(exc)})")


def _decided_by(decision: Decision) -> str:
    """What is stored as the deciding phrase: the phrase as ops wrote it, or the FAQ entry."""
    if decision.label == TriageLabel.FAQ and decision.answer:
        return f"FAQ #{decision.answer.entry_id}: {decision.answer.question}"
    return decision.phrase


def _carry_out(plan: Plan, *, row: TriageSettings, contact: Contact, message: Message) -> None:
    if plan.opt_out:
        _opt_out(contact, message.channel)
    handoff = None
    if plan.trigger:
        handoff = _raise(
            row=row,
            contact=contact,
            message=message,
            trigger=plan.trigger,
            priority=plan.priority,
            reason=plan.reason,
            evidence=plan.evidence,
            lead=plan.offer_to_lead,
        )
    told_at = handoff.after_hours_replied_at if handoff is not None else None
    if plan.reply and not (told_at is not None and told_at >= message.created_at):
        # The holding reply belongs to the complexity handoff, so the send-time "a person has
        # it" check does not hold it back; an FAQ answer belongs to no handoff. When the raise
        # has just sent the after-hours reply, that already tells the contact what happens.
        _bot_send(contact, plan.reply, handoff=handoff)


def _raise(
    *,
    row: TriageSettings,
    contact: Contact,
    message: Message,
    trigger: str,
    priority: str,
    reason: str,
    evidence: dict[str, Any],
    lead: bool = False,
) -> Handoff:
    """Raise (which pauses the contact's journeys) and tie the message to the handoff, so the
    conversation shows it and its team's privacy covers it."""
    team = owning_team(contact=contact, row=row)
    if team is None:
        raise InvalidInput("there is no team to hand the contact to")
    handoff, _ = handoff_raise(
        request=RaiseRequest(
            contact=contact,
            team=team,
            trigger=trigger,
            priority=priority,
            reason=reason,
            evidence={
                **evidence,
                "message_id": message.pk,
                "channel": message.channel,
                "at": iso(timezone.now()),
            },
            offered_to_role=_lead_role(team) if lead else "",
        )
    )
    Message.objects.filter(pk=message.pk).update(handoff=handoff)
    return handoff


def _lead_role(team: Team) -> str:
    """The team's lead, or its director where the team has no lead (Sales)."""
    roles = set(
        Membership.objects.filter(team=team, role__in=[Role.LEAD, Role.DIRECTOR]).values_list(
            "role", flat=True
        )
    )
    return Role.DIRECTOR if Role.LEAD not in roles and Role.DIRECTOR in roles else Role.LEAD


def _opt_out(contact: Contact, channel: str) -> None:
    channels = list(contact.opted_out_channels or [])
    if channel not in channels:
        channels.append(channel)
        Contact.objects.filter(pk=contact.pk).update(opted_out_channels=channels)
        contact.opted_out_channels = channels


def _bot_send(contact: Contact, body: str, *, handoff: Handoff | None) -> Message:
    return automated_message_queue(contact=contact, body=body, handoff=handoff)


def _fail_safe(contact: Contact, message: Message, why: str) -> None:
    """A bot step that cannot do its job hands the contact to a person, never to silence."""
    try:
        with transaction.atomic():
            row = triage_settings()
            _raise(
                row=row,
                contact=contact,
                message=message,
                trigger=Trigger.MANUAL,
                priority=Priority.HIGH,
                reason=f"Automation stopped: {why}",
                evidence={"type": "triage_error", "detail": why},
            )
    except Exception:
        log.exception("could not raise the fail-safe handoff for message %s", message.pk)


def _named(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


# ---- the knowledge base -----------------------------------------------------------------


@transaction.atomic
def faq_candidate_from_handoff(*, handoff_id: int, user: Any) -> tuple[FaqEntry, bool]:
    """The contact's question and the person's reply become a FAQ candidate for ops to review.
    Saving twice gives back the first candidate (False: not new)."""
    handoff = (
        Handoff.objects.select_for_update(of=("self",)).select_related("team").get(pk=handoff_id)
    )
    existing = FaqEntry.objects.filter(source_handoff=handoff).order_by("id").first()
    if existing is not None:
        return existing, False
    question = handoff.messages.filter(direction=Direction.IN).order_by("created_at", "id").first()
    reply = (
        handoff.messages.filter(direction=Direction.OUT, automated=False, author__isnull=False)
        .select_related("author")
        .order_by("-created_at", "-id")
        .first()
    )
    if question is None:
        raise InvalidInput("The contact has not asked anything on this handoff.")
    if reply is None:
        raise Conflict("Reply to the contact first: the reply becomes the answer.")
    entry = FaqEntry.objects.create(
        question=" ".join(question.body.split())[:500],
        answer=_without_signature(reply.body, signature_line(reply.author, handoff.team)),
        status=FaqStatus.CANDIDATE,
        source_handoff=handoff,
        created_by=user,
    )
    return entry, True


def _without_signature(body: str, signature: str) -> str:
    text = body.strip()
    if text.endswith(signature):
        text = text[: -len(signature)].rstrip()
    return text


def faq_entries_review(*, entry_ids: list[int], status: str, user: Any) -> int:
    """Approve (the ranker uses it from the next message on) or reject entries; returns how
    many changed. The index cache notices through `updated_at`."""
    if status not in (FaqStatus.APPROVED, FaqStatus.REJECTED):
        raise InvalidInput(f"Cannot review to {status!r}")
    now = timezone.now()
    return (
        FaqEntry.objects.filter(pk__in=entry_ids)
        .exclude(status=status)
        .update(status=status, reviewed_by=user, reviewed_at=now, updated_at=now)
    )
