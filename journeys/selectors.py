"""Reads of contacts and their journey history, narrowed to what the principal may see.

A contact belongs to the teams that have handled it (its handoffs) and to the teams that own a
step of a journey it is or was in; an integration key that may read handoffs across every team
sees every contact."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from handoffs.models import Handoff, HandoffEvent, Message
from journeys.models import Contact, Enrollment, EnrollmentEvent, ExchangeRate, Signal
from portal.errors import log_not_visible
from portal.models import ApiKey, Team
from portal.selectors import teams_visible_to
from portal.timefmt import iso


def exchange_rates() -> dict[str, float]:
    """Currency → value of one unit in the base currency (which is 1), for currency-aware rules."""
    rates = {
        code: float(rate) for code, rate in ExchangeRate.objects.values_list("currency", "rate")
    }
    return {**rates, settings.BATON_BASE_CURRENCY: 1.0}


def contacts_visible_to(*, principal: Any) -> QuerySet[Contact]:
    qs = Contact.objects.select_related("account")
    every_team = isinstance(principal, ApiKey) and principal.can_read_handoffs
    if every_team and principal.is_active and not principal.teams.exists():
        return qs
    teams = teams_visible_to(principal=principal)
    handled = Handoff.objects.filter(contact=OuterRef("pk"), team__in=teams)
    in_their_journey = Enrollment.objects.filter(
        contact=OuterRef("pk"), journey__steps__team__in=teams
    )
    return qs.filter(Exists(handled) | Exists(in_their_journey))


def contact_get_for(*, principal: Any, contact_id: int) -> Contact:
    contact = contacts_visible_to(principal=principal).filter(id=contact_id).first()
    if contact is None:
        log_not_visible(principal, f"contact {contact_id}")
        raise Http404("No such contact")
    return contact


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str
    summary: str
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"at": iso(self.at), "kind": self.kind, "summary": self.summary, **self.data}


def _signals(contact: Contact, teams: QuerySet[Team]) -> QuerySet[Signal]:
    """A signal that raised another team's handoff is that team's business."""
    foreign = Handoff.objects.filter(signal=OuterRef("pk")).exclude(team__in=teams)
    return Signal.objects.filter(contact=contact).exclude(Exists(foreign))


def _messages(contact: Contact, teams: QuerySet[Team]) -> QuerySet[Message]:
    """The contact's conversation, less what belongs to other teams' handoffs."""
    return Message.objects.filter(conversation__contact=contact).filter(
        Q(handoff__isnull=True) | Q(handoff__team__in=teams)
    )


def _handoff_events(contact: Contact, teams: QuerySet[Team]) -> QuerySet[HandoffEvent]:
    return HandoffEvent.objects.filter(handoff__contact=contact, handoff__team__in=teams).exclude(
        kind="replied"  # the reply itself is on the timeline as a message
    )


def _signal_items(contact: Contact, limit: int, teams: QuerySet[Team]) -> list[TimelineItem]:
    rows = _signals(contact, teams).order_by("-occurred_at", "-id")[:limit]
    return [
        TimelineItem(
            s.occurred_at,
            "signal",
            _signal_summary(s),
            {"id": s.pk, "type": s.type, "properties": s.properties},
        )
        for s in rows
    ]


def _signal_summary(signal: Signal) -> str:
    props = ", ".join(f"{k}={v}" for k, v in list(signal.properties.items())[:4])
    return f"Signal {signal.type}" + (f" ({props})" if props else "")


def _message_items(contact: Contact, limit: int, teams: QuerySet[Team]) -> list[TimelineItem]:
    rows = (
        _messages(contact, teams)
        .select_related("author", "outbox", "enrollment__journey")
        .order_by("-created_at", "-id")[:limit]
    )
    items = []
    for m in rows:
        outbox = getattr(m, "outbox", None)
        if m.direction == "in":
            who = f"{m.get_channel_display()} from {contact.display_name}"
        elif m.automated:
            who = f"Automated {m.get_channel_display()} to {contact.display_name}"
            if m.enrollment_id:
                who += f" ({m.enrollment.journey.name}, step {m.step})"
        else:
            author = m.author.get_full_name() if m.author else "someone"
            who = f"{m.get_channel_display()} to {contact.display_name} by {author}"
        items.append(
            TimelineItem(
                m.created_at,
                "message",
                who,
                {
                    "id": m.pk,
                    "direction": m.direction,
                    "channel": m.channel,
                    "body": m.body,
                    "automated": m.automated,
                    "handoff_id": m.handoff_id,
                    "delivery": outbox.status if outbox else None,
                    "journey": m.enrollment.journey.name if m.enrollment_id else None,
                    "step": m.step or None,
                },
            )
        )
    return items


def _handoff_items(contact: Contact, limit: int, teams: QuerySet[Team]) -> list[TimelineItem]:
    rows = (
        _handoff_events(contact, teams)
        .select_related("handoff", "actor")
        .order_by("-at", "-id")[:limit]
    )
    items = []
    for e in rows:
        h = e.handoff
        actor = f" by {e.actor.get_full_name() or e.actor.username}" if e.actor else ""
        summary = f"{h.get_trigger_display()} handoff {e.get_kind_display().lower()}{actor}"
        if e.kind == "created":
            summary += f": {h.reason}"
        elif e.kind == "resolved" and h.resolution:
            summary += f": {h.resolution}"
        items.append(
            TimelineItem(
                e.at,
                "handoff",
                summary,
                {"handoff_id": h.pk, "event": e.kind, "trigger": h.trigger, "status": h.status},
            )
        )
    return items


def _journey_items(contact: Contact, limit: int, teams: QuerySet[Team]) -> list[TimelineItem]:
    rows = (
        EnrollmentEvent.objects.filter(enrollment__contact=contact)
        .select_related("enrollment__journey", "actor")
        .order_by("-at", "-id")[:limit]
    )
    return [
        TimelineItem(
            e.at,
            timeline_kind(e.kind),
            _journey_summary(e),
            {
                "journey_id": e.enrollment.journey_id,
                "journey": e.enrollment.journey.name,
                "step": e.step or None,
                "event": e.kind,
            },
        )
        for e in rows
    ]


STAGE_EVENTS = frozenset({"enrolled", "stage"})
JOURNEY_EVENTS = frozenset({"paused", "resumed", "unenrolled", "migrated"})
JOURNEY_EVENT_VERBS = {
    "paused": "paused for a human",
    "resumed": "automation resumed",
    "unenrolled": "unenrolled",
    "migrated": "moved to a new version",
}


def timeline_kind(event_kind: str) -> str:
    """API.md's timeline kinds: `stage` for entering a journey or stage, `journey` for what
    people did to the enrollment, `step` for what a step did (waits, branches, answers, ends)."""
    if event_kind in STAGE_EVENTS:
        return "stage"
    return "journey" if event_kind in JOURNEY_EVENTS else "step"


def _journey_summary(event: EnrollmentEvent) -> str:
    journey = event.enrollment.journey.name
    actor = f" by {event.actor.get_full_name() or event.actor.username}" if event.actor else ""
    if event.kind in JOURNEY_EVENT_VERBS:
        detail = f": {event.detail}" if event.detail else ""
        return f"{journey} {JOURNEY_EVENT_VERBS[event.kind]}{actor}{detail}"
    where = f"{journey}, step {event.step}" if event.step else journey
    if event.kind == "enrolled":
        return (event.detail or f"Enrolled in {journey}") + actor
    return f"{where}: {event.detail}{actor}"


SOURCES = (_signal_items, _message_items, _handoff_items, _journey_items)


def timeline_count(*, contact: Contact, principal: Any) -> int:
    teams = teams_visible_to(principal=principal)
    return (
        _signals(contact, teams).count()
        + _messages(contact, teams).count()
        + _handoff_events(contact, teams).count()
        + EnrollmentEvent.objects.filter(enrollment__contact=contact).count()
    )


def contact_timeline(
    *, contact: Contact, principal: Any, offset: int, limit: int
) -> list[TimelineItem]:
    """Newest first, across every kind, showing only what `principal`'s teams may see (other
    teams' handoffs, their messages and the signals that raised them stay hidden). Each source
    yields at most offset+limit rows, so a page costs one query per source."""
    teams = teams_visible_to(principal=principal)
    wanted = offset + limit
    merged = heapq.merge(
        *(source(contact, wanted, teams) for source in SOURCES), key=lambda i: i.at, reverse=True
    )
    return list(merged)[offset:wanted]
