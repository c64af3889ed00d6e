"""The SLA clock on handoffs (docs/sla.md): due times when a handoff is raised, the pause while
it waits on the contact, and the next-reply clock when the contact answers. Business-time
arithmetic is handoffs/sla.py; the terms come from governance's policies and calendars; the
breach sweep is handoffs/services/breaches.py."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from governance.selectors import SlaTerms, sla_terms
from handoffs.models import Handoff
from handoffs.sla import (
    Calendar,
    NeverOpen,
    add_business_time,
    business_time_between,
    next_opening,
)

log = logging.getLogger("baton.sla")

# --- the arithmetic, never failing a raise or a reply -----------------------------------------


def _add(start: datetime, minutes: float, calendar: Calendar) -> datetime:
    try:
        return add_business_time(start, minutes, calendar)
    except NeverOpen:
        log.error("a calendar never opens: counting %s min of wall time instead", minutes)
        return start + timedelta(minutes=minutes)


def opening_or_now(at: datetime, calendar: Calendar) -> datetime:
    """The next opening; `at` itself for a calendar that never opens (logged)."""
    try:
        return next_opening(at, calendar)
    except NeverOpen:
        log.error("a calendar never opens: treating %s as open", at)
        return at


def _running_due(handoff: Handoff) -> datetime | None:
    clock = handoff.sla_clock
    return clock.due if clock is not None else None


def terms_of(handoff: Handoff) -> SlaTerms:
    """The team's current terms for the handoff's priority (not its first-reply target)."""
    return sla_terms(team_id=handoff.team_id, priority=handoff.priority)


# --- starting, pausing and resuming ----------------------------------------------------------


@dataclass(frozen=True)
class ClockStart:
    """A new handoff's clock: its due times and whether it was raised while the team was shut
    (the clock then starts at the next opening, and the after-hours reply may go out)."""

    started_at: datetime
    first_response_due_at: datetime
    resolution_due_at: datetime | None
    after_hours: bool

    @property
    def sla_due_at(self) -> datetime:
        if self.resolution_due_at is None:
            return self.first_response_due_at
        return min(self.first_response_due_at, self.resolution_due_at)

    def fields(self) -> dict[str, Any]:
        return {
            "sla_started_at": self.started_at,
            "first_response_due_at": self.first_response_due_at,
            "resolution_due_at": self.resolution_due_at,
            "sla_due_at": self.sla_due_at,
        }


def clock_start(*, terms: SlaTerms, now: datetime) -> ClockStart:
    calendar = terms.calendar
    started = opening_or_now(now, calendar)
    resolution = _add(now, terms.resolution_minutes, calendar) if terms.resolution_minutes else None
    return ClockStart(
        started_at=started,
        first_response_due_at=_add(now, terms.first_response_minutes, calendar),
        resolution_due_at=resolution,
        after_hours=started > now,
    )


def clock_on_human_reply(*, handoff: Handoff, now: datetime) -> list[str]:
    """A person replied (the handoff now waits on the contact): the next-reply clock is met, and
    the resolution clock stops if the team's policy pauses it. Sets the fields on `handoff`
    and returns their names for the caller's save."""
    handoff.next_response_due_at = None
    if terms_of(handoff).pause_while_waiting and handoff.sla_paused_at is None:
        handoff.sla_paused_at = now
    handoff.sla_due_at = _running_due(handoff)
    return ["next_response_due_at", "sla_paused_at", "sla_due_at"]


def clock_on_contact_message(*, handoff: Handoff, now: datetime, reopened: bool) -> list[str]:
    """The contact wrote: a paused clock resumes where it stopped (the resolution due moves on
    by the business time spent waiting), and once a person has replied before, the next reply
    is due within the policy's next-response time. A reopened handoff gets a new resolution
    clock. Sets the fields on `handoff` and returns their names for the caller's save."""
    terms = terms_of(handoff)
    calendar = terms.calendar
    if handoff.sla_paused_at is not None:
        paused = business_time_between(handoff.sla_paused_at, now, calendar)
        handoff.sla_paused_seconds += int(paused.total_seconds())
        if handoff.resolution_due_at is not None and not reopened:
            left = business_time_between(handoff.sla_paused_at, handoff.resolution_due_at, calendar)
            handoff.resolution_due_at = _add(now, left.total_seconds() / 60, calendar)
        handoff.sla_paused_at = None
    if reopened:
        handoff.next_response_due_at = None
        handoff.resolution_due_at = (
            _add(now, terms.resolution_minutes, calendar) if terms.resolution_minutes else None
        )
    if (
        handoff.first_responded_at is not None
        and handoff.next_response_due_at is None
        and terms.next_response_minutes
    ):
        handoff.next_response_due_at = _add(now, terms.next_response_minutes, calendar)
    handoff.sla_due_at = _running_due(handoff)
    return [
        "next_response_due_at",
        "resolution_due_at",
        "sla_paused_at",
        "sla_paused_seconds",
        "sla_due_at",
    ]


def when_label(at: datetime | None, terms: SlaTerms) -> str:
    """An instant as the team reads it: "Mon 23 Nov 09:00 GMT" on its calendar's clock."""
    if at is None:
        return "—"
    zone = terms.calendar.zone if terms.has_hours else timezone.get_default_timezone()
    return at.astimezone(zone).strftime("%a %-d %b %H:%M %Z")
