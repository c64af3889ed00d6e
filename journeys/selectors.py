"""Reads of contacts and their journey history, narrowed to what the principal may see.

A contact belongs to the teams that have handled it (its handoffs) and to the teams that own a
step of a journey it is or was in; an integration key that may read handoffs across every team
sees every contact."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from handoffs.choices import ACTIVE_STATUSES
from handoffs.models import Handoff, HandoffEvent, Message
from journeys.choices import LIVE_ENROLLMENT_STATUSES, WAITING_FIRST_STEP
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


def _journey_events(contact: Contact, kinds: frozenset[str]) -> QuerySet[EnrollmentEvent]:
    """The contact's journey events of the timeline kinds asked for (stage, step, journey)."""
    qs = EnrollmentEvent.objects.filter(enrollment__contact=contact)
    wanted = kinds & JOURNEY_KINDS
    if wanted == JOURNEY_KINDS:
        return qs
    scope = Q(pk__in=[])
    if "stage" in wanted:
        scope |= Q(kind__in=STAGE_EVENTS)
    if "journey" in wanted:
        scope |= Q(kind__in=JOURNEY_EVENTS)
    if "governance" in wanted:
        scope |= Q(kind__in=GOVERNANCE_EVENTS)
    if "step" in wanted:
        scope |= ~Q(kind__in=STAGE_EVENTS | JOURNEY_EVENTS | GOVERNANCE_EVENTS)
    return qs.filter(scope)


def _journey_items(
    contact: Contact, limit: int, teams: QuerySet[Team], kinds: frozenset[str]
) -> list[TimelineItem]:
    rows = (
        _journey_events(contact, kinds)
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
# What governance did to an automated touch (docs/governance.md): API.md's `governance` kind.
GOVERNANCE_EVENTS = frozenset(
    {"deferred", "suppressed", "blocked", "held", "approval", "deferred_outcome"}
)
JOURNEY_EVENT_VERBS = {
    "paused": "paused for a human",
    "resumed": "automation resumed",
    "unenrolled": "unenrolled",
    "migrated": "moved to a new version",
}


def timeline_kind(event_kind: str) -> str:
    """API.md's timeline kinds: `stage` for entering a journey or stage, `journey` for what
    people did to the enrollment, `governance` for a deferral, suppression or approval, `step`
    for what a step did (waits, branches, answers, ends)."""
    if event_kind in STAGE_EVENTS:
        return "stage"
    if event_kind in GOVERNANCE_EVENTS:
        return "governance"
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


TIMELINE_KINDS = ("signal", "message", "handoff", "stage", "step", "journey", "governance")
JOURNEY_KINDS = frozenset({"stage", "step", "journey", "governance"})


def timeline_kinds_parse(values: list[str]) -> frozenset[str]:
    """`?kind=message&kind=handoff` → those kinds; nothing (or nothing known) → every kind."""
    chosen = frozenset(v for v in values if v in TIMELINE_KINDS)
    return chosen or frozenset(TIMELINE_KINDS)


def timeline_count(
    *, contact: Contact, principal: Any, kinds: frozenset[str] = frozenset(TIMELINE_KINDS)
) -> int:
    teams = teams_visible_to(principal=principal)
    counts = {
        "signal": lambda: _signals(contact, teams).count(),
        "message": lambda: _messages(contact, teams).count(),
        "handoff": lambda: _handoff_events(contact, teams).count(),
    }
    total = sum(count() for kind, count in counts.items() if kind in kinds)
    if kinds & JOURNEY_KINDS:
        total += _journey_events(contact, kinds).count()
    return total


def contact_timeline(
    *,
    contact: Contact,
    principal: Any,
    offset: int,
    limit: int,
    kinds: frozenset[str] = frozenset(TIMELINE_KINDS),
) -> list[TimelineItem]:
    """Newest first, across the kinds asked for, showing only what `principal`'s teams may see
    (other teams' handoffs, their messages and the signals that raised them stay hidden). Each
    source yields at most offset+limit rows, so a page costs one query per source."""
    teams = teams_visible_to(principal=principal)
    wanted = offset + limit
    sources = []
    if "signal" in kinds:
        sources.append(_signal_items(contact, wanted, teams))
    if "message" in kinds:
        sources.append(_message_items(contact, wanted, teams))
    if "handoff" in kinds:
        sources.append(_handoff_items(contact, wanted, teams))
    if kinds & JOURNEY_KINDS:
        sources.append(_journey_items(contact, wanted, teams, kinds))
    merged = heapq.merge(*sources, key=lambda i: i.at, reverse=True)
    return list(merged)[offset:wanted]


def contact_summary(*, contact: Contact, principal: Any, now: datetime | None = None) -> list[str]:
    """A few sentences on what happened lately, for a rep taking over: what brought the contact
    in, the conversation in the last week, where its journeys stand and who has it now. Built
    from the same team-scoped reads as the timeline (a fixed handful of queries)."""
    now = now or timezone.now()
    teams = teams_visible_to(principal=principal)
    week = now - timedelta(days=7)
    lines: list[str] = []
    latest = _signals(contact, teams).order_by("-occurred_at", "-id").first()
    if latest is not None:
        lines.append(f"Latest signal: {latest.type}, {_ago(latest.occurred_at, now)}.")
    talk = (
        _messages(contact, teams)
        .filter(created_at__gte=week)
        .aggregate(
            bot=Count("id", filter=Q(direction="out", automated=True)),
            human=Count("id", filter=Q(direction="out", automated=False)),
            inbound=Count("id", filter=Q(direction="in")),
        )
    )
    if any(talk.values()):
        lines.append(
            f"Last 7 days: {_n(talk['bot'], 'automated message')}, "
            f"{_n(talk['human'], 'reply', 'replies')} from people, "
            f"{_n(talk['inbound'], 'message')} from "
            f"{contact.display_name}."
        )
    last_in = _messages(contact, teams).filter(direction="in").order_by("-created_at").first()
    if last_in is not None:
        text = " ".join(last_in.body.split())
        text = text if len(text) <= 90 else text[:89] + "…"
        lines.append(f"They last wrote {_ago(last_in.created_at, now)}: “{text}”")
    for enrollment in Enrollment.objects.filter(
        contact=contact, status__in=LIVE_ENROLLMENT_STATUSES
    ).select_related("journey", "stage"):
        where = f" at {enrollment.stage.name}" if enrollment.stage else ""
        if enrollment.status == "paused_for_human":
            state = "paused while a person has the contact"
        elif enrollment.waiting_for == WAITING_FIRST_STEP:
            state = "starting"
        elif enrollment.waiting_for:
            what = "a reply" if enrollment.waiting_for == "reply" else enrollment.waiting_for
            state = f"waiting for {what}"
        else:
            state = "running"
        lines.append(f"{enrollment.journey.name}{where}: {state}.")
    for handoff in Handoff.objects.filter(
        contact=contact, team__in=teams, status__in=ACTIVE_STATUSES
    ).select_related("assignee", "team"):
        owner = (
            f"with {handoff.assignee.get_full_name() or handoff.assignee.username}"
            if handoff.assignee
            else f"waiting in the {handoff.team.name} pool"
        )
        lines.append(
            f"{handoff.get_trigger_display()} handoff raised {_ago(handoff.created_at, now)}, "
            f"{owner}."
        )
    return lines


def _n(count: int, noun: str, plural: str = "") -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _ago(at: datetime, now: datetime) -> str:
    seconds = max(0, int((now - at).total_seconds()))
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            return f"{_n(seconds // size, unit)} ago"
    return "just now"
