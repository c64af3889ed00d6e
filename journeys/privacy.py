"""A contact's personal data: export it (a subject access request) and erase it (the right to
erasure), from admin and the API (docs/privacy.md).

Erasure anonymises rather than deletes: the contact, its signals, messages, handoffs and
enrollments stay as rows with their types, times, teams and outcomes, so every count, duration
and rate on the dashboard is unchanged; what identifies or quotes the person is blanked. The
contact is opted out of every channel and taken out of automation first, in the same
transaction, so nothing queued for them is sent afterwards."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.policies.models import Approval, TouchDecision
from handoffs.choices import ACTIVE_STATUSES, Channel, OutboxStatus
from handoffs.models import Handoff, HandoffEvent, Message, OutboxEntry
from handoffs.services import handoff_resolve
from journeys.models import Contact, Enrollment, EnrollmentEvent, Signal
from journeys.services import LIVE_ENROLLMENT_STATUSES, enrollment_unenroll
from portal.errors import Conflict, InvalidInput
from portal.integrations.outbound_models import OutboundDelivery
from portal.models import Event
from portal.timefmt import iso

log = logging.getLogger("baton.security")

ERASED = "[erased]"


# --- export ---


def contact_export(*, contact: Contact) -> dict[str, Any]:
    """Everything Baton holds about the contact, as one JSON document."""
    messages = (
        Message.objects.filter(conversation__contact=contact)
        .select_related("author", "outbox")
        .order_by("created_at", "id")
    )
    return {
        "exported_at": iso(timezone.now()),
        "contact": {
            "id": contact.pk,
            "external_id": contact.external_id,
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "timezone": contact.timezone,
            "persona": contact.persona,
            "account": (
                {"external_id": contact.account.external_id, "name": contact.account.name}
                if contact.account_id
                else None
            ),
            "opted_out_channels": contact.opted_out_channels,
            "created_at": iso(contact.created_at),
            "erased_at": iso(contact.erased_at),
        },
        "signals": [
            {
                "type": s.type,
                "occurred_at": iso(s.occurred_at),
                "received_at": iso(s.received_at),
                "properties": s.properties,
            }
            for s in contact.signals.order_by("occurred_at", "id")
        ],
        "messages": [
            {
                "direction": m.direction,
                "channel": m.channel,
                "subject": m.subject,
                "body": m.body,
                "automated": m.automated,
                "author": m.author.get_full_name() if m.author_id else None,
                "created_at": iso(m.created_at),
                "to": getattr(getattr(m, "outbox", None), "to_address", None),
            }
            for m in messages
        ],
        "handoffs": [
            {
                "id": h.pk,
                "team": h.team.name,
                "trigger": h.trigger,
                "reason": h.reason,
                "status": h.status,
                "created_at": iso(h.created_at),
                "resolved_at": iso(h.resolved_at),
                "resolution": h.resolution,
            }
            for h in contact.handoffs.select_related("team").order_by("created_at", "id")
        ],
        "enrollments": [
            {
                "journey": e.journey.name,
                "status": e.status,
                "stage": e.stage.name if e.stage_id else None,
                "enrolled_at": iso(e.created_at),
            }
            for e in contact.enrollments.select_related("journey", "stage").order_by("id")
        ],
        "governance": {
            "touch_decisions": [
                {
                    "action": d.action,
                    "rule": d.rule_name,
                    "reason": d.reason,
                    "text": d.text,
                    "at": iso(d.created_at),
                }
                for d in TouchDecision.objects.filter(contact=contact).order_by("id")
            ],
            "held_messages": [
                {
                    "text": a.original_text,
                    "edited": a.edited_text,
                    "decision": a.decision,
                    "at": iso(a.created_at),
                }
                for a in Approval.objects.filter(contact=contact).order_by("id")
            ],
        },
    }


# --- erasure ---


@dataclass(frozen=True)
class Erasure:
    contact_id: int
    erased_at: str
    handoffs_closed: int
    enrollments_stopped: int
    messages_cancelled: int
    signals: int
    messages: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def contact_erase(*, contact_id: int, actor: Any, note: str) -> Erasure:
    """Stop all automation for the contact and blank what identifies or quotes them, in one
    transaction. `actor` is the person (or None for an API key, named in `note`). Erasing an
    erased contact is refused (409) and changes nothing."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput("Say why (the request's reference).", {"reason": ["Required."]})
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        if contact is None:
            raise InvalidInput("No such contact.")
        if contact.erased_at is not None:
            raise Conflict(f"This contact's data was already erased on {iso(contact.erased_at)}.")
        now = timezone.now()
        stopped = _stop_automation(contact, actor)
        closed = _close_handoffs(contact)
        cancelled = OutboxEntry.objects.filter(
            message__conversation__contact=contact, status=OutboxStatus.QUEUED
        ).update(status=OutboxStatus.CANCELLED, lease_until=None, last_error="contact erased")
        handoff_ids = list(contact.handoffs.values_list("pk", flat=True))
        signals = Signal.objects.filter(contact=contact).update(properties={})
        messages = Message.objects.filter(conversation__contact=contact).update(
            body=ERASED, subject=""
        )
        OutboxEntry.objects.filter(message__conversation__contact=contact).update(to_address="")
        Handoff.objects.filter(pk__in=handoff_ids).update(reason=ERASED, evidence=[])
        Handoff.objects.filter(pk__in=handoff_ids).exclude(resolution="").update(resolution=ERASED)
        HandoffEvent.objects.filter(handoff_id__in=handoff_ids).update(data={})
        Approval.objects.filter(contact=contact).update(
            original_text=ERASED, edited_text="", to_address=""
        )
        TouchDecision.objects.filter(contact=contact).exclude(text="").update(text=ERASED)
        EnrollmentEvent.objects.filter(enrollment__contact=contact).update(detail=ERASED)
        _redact_payloads(contact, handoff_ids)
        contact.name = contact.email = contact.phone = contact.timezone = ""
        contact.external_id = f"erased:{contact.pk}"
        contact.opted_out_channels = [str(c) for c in Channel.values]
        contact.erased_at = now
        contact.erased_by = actor if getattr(actor, "is_authenticated", False) else None
        contact.erasure_note = note[:300]
        contact.save()
    log.info("erased contact %s by %s: %s", contact_id, getattr(actor, "pk", None), note[:300])
    return Erasure(
        contact_id=contact_id,
        erased_at=iso(now) or "",
        handoffs_closed=closed,
        enrollments_stopped=stopped,
        messages_cancelled=cancelled,
        signals=signals,
        messages=messages,
    )


def _stop_automation(contact: Contact, actor: Any) -> int:
    """Unenrolled from every live journey (which also cancels what they had queued)."""
    person = actor if getattr(actor, "is_authenticated", False) else None
    live = list(
        Enrollment.objects.filter(contact=contact, status__in=LIVE_ENROLLMENT_STATUSES).values_list(
            "pk", flat=True
        )
    )
    for pk in live:
        enrollment_unenroll(enrollment_id=pk, actor=person, reason="Contact data erased")
    return len(live)


def _close_handoffs(contact: Contact) -> int:
    active = list(contact.handoffs.filter(status__in=ACTIVE_STATUSES).values_list("pk", flat=True))
    for pk in active:
        handoff_resolve(
            handoff_id=pk,
            user=None,
            resolution="Contact data erased",
            resume_automation=False,
        )
    return len(active)


def _redact_payloads(contact: Contact, handoff_ids: list[int]) -> None:
    """The event log and outbound deliveries carry the contact's name and, for messages, the
    text: blank them where they name this contact."""
    for event in Event.objects.filter(handoff_id__in=handoff_ids):
        event.payload = _redacted(event.payload)
        event.save(update_fields=["payload"])
    for delivery in OutboundDelivery.objects.filter(payload__data__contact__id=contact.pk):
        delivery.payload = {**delivery.payload, "data": _redacted(delivery.payload["data"])}
        delivery.save(update_fields=["payload"])


def _redacted(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if isinstance(out.get("contact"), dict):
        out["contact"] = {**out["contact"], "external_id": None, "name": ""}
    for key in ("reason", "body", "subject", "evidence", "resolution"):
        if out.get(key):
            out[key] = ERASED if isinstance(out[key], str) else []
    if isinstance(out.get("delivery"), dict):
        out["delivery"] = {**out["delivery"], "to": ""}
    return out
