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
from handoffs.outbox import outbox_enqueue
from handoffs.services.raising import RaiseRequest, handoff_raise
from handoffs.services.replies import conversation_for, reply_route, signature_line
from handoffs.triage.choices import SENTIMENT_LABELS, FaqStatus, TriageLabel
from handoffs.triage.classify import Decision, triage_decide
from handoffs.triage.config import (
    faq_index,
    owning_team,
    phrasebook,
    thresholds_of,
    triage_settings,
)
from journeys.models import Contact
from portal.choices import Role
from portal.errors import Conflict, InvalidInput
from portal.models import Membership, Team
from portal.timefmt import iso

log = logging.getLogger("baton.triage")

QUOTE_CHARS = 200


def message_triage(*, message: Message, contact: Contact, handoff: Handoff | None) -> None:
    """Label an inbound message and act on it. `handoff` is the handoff the message already
    belongs to (a person has the conversation): then the label is only recorded — and an
    opt-out is still honoured — but nothing new is raised."""
    # The caller's object holds only the fields this message carried (an upsert): read the
    # stored contact, whose addresses and opt-outs the replies and the opt-out depend on.
    contact = Contact.objects.get(pk=contact.pk)
    try:
        row = triage_settings()
        rank: Any = (lambda _text: ()) if handoff else (lambda text: faq_index().rank(text))
        decision = triage_decide(
            message.body, phrases=phrasebook(), thresholds=thresholds_of(row), rank=rank
        )
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
            if decision.label == TriageLabel.OPT_OUT:
                _opt_out(contact, message.channel)
            if handoff is None:
                _act(decision, row=row, contact=contact, message=message)
    except Exception as exc:
        log.exception("acting on triage of message %s failed", message.pk)
        if handoff is None:
            _fail_safe(contact, message, f"{decision.label} reply not handled ({_named(exc)})")


def _decided_by(decision: Decision) -> str:
    if decision.label == TriageLabel.FAQ and decision.answer:
        return f"FAQ #{decision.answer.entry_id}: {decision.answer.question}"
    return decision.phrase


def _act(decision: Decision, *, row: TriageSettings, contact: Contact, message: Message) -> None:
    if decision.label in SENTIMENT_LABELS:
        _raise_sentiment(decision, row=row, contact=contact, message=message)
    elif decision.label == TriageLabel.FAQ and decision.answer:
        _bot_send(contact, f"{decision.answer.answer}\n\n{row.assistant_signature}", handoff=None)
    elif decision.label == TriageLabel.QUESTION:
        handoff = _raise(
            row=row,
            contact=contact,
            message=message,
            trigger=Trigger.COMPLEXITY,
            priority=Priority.NORMAL,
            reason=f"Question the FAQ cannot answer: “{_quote(message.body)}”",
            evidence={
                "type": "question",
                "detail": _candidates_detail(decision),
                "candidates": [
                    {"faq_id": c.entry_id, "question": c.question, "score": c.score}
                    for c in decision.candidates
                ],
            },
        )
        _bot_send(contact, f"{row.holding_reply}\n\n{row.assistant_signature}", handoff=handoff)


def _raise_sentiment(
    decision: Decision, *, row: TriageSettings, contact: Contact, message: Message
) -> None:
    why = f"VADER {_signed(decision.sentiment)}"
    if decision.phrase:
        why += f"; matched '{decision.phrase}'"
    label = {
        TriageLabel.ANGRY: "Angry reply",
        TriageLabel.CONFUSED: "Confused reply",
        TriageLabel.OPT_OUT: f"Opted out of {message.get_channel_display()}",
    }[decision.label]
    _raise(
        row=row,
        contact=contact,
        message=message,
        trigger=Trigger.SENTIMENT,
        priority=Priority.HIGH if decision.label == TriageLabel.ANGRY else Priority.NORMAL,
        reason=f"{label} ({why})",
        evidence={
            "type": decision.label,
            "detail": f"“{_quote(message.body)}” — {why}",
            "sentiment": decision.sentiment,
            "phrase": decision.phrase,
        },
        lead=True,
    )


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
    """An automated message in the contact's conversation, through the outbox. Tied to the
    handoff it is part of (the holding reply), so the send-time check does not hold it back."""
    channel, address = reply_route(contact)
    message = Message.objects.create(
        conversation=conversation_for(contact),
        handoff=handoff,
        direction=Direction.OUT,
        channel=channel,
        body=body,
        automated=True,
    )
    outbox_enqueue(message=message, to_address=address)
    return message


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


def _candidates_detail(decision: Decision) -> str:
    if not decision.candidates:
        return "No FAQ entry shares its words."
    best = "; ".join(f"“{c.question}” {c.score:.2f}" for c in decision.candidates)
    return f"Best FAQ matches: {best}"


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= QUOTE_CHARS else flat[: QUOTE_CHARS - 1] + "…"


def _signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")


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
