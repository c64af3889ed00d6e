"""Reads of SLA policies and calendars (docs/sla.md): the calendar a team's clock runs on, and
the terms a handoff is held to — with the precedence a journey step's own SLA, then a handoff
rule's own minutes, then the team's policy for the priority, then the team's default."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, time
from typing import Any

from django.db.models import Count, Max

from governance.choices import BreachAction
from governance.models import BusinessCalendar, HandoffRuleSla, SlaPolicy, TeamHours
from handoffs.sla import ALWAYS_OPEN, Calendar, WorkPeriod
from portal.memo import per_scope

log = logging.getLogger("baton.sla")


@dataclass(frozen=True)
class SlaTerms:
    """What one handoff is held to. Minutes are business minutes on `calendar`."""

    calendar: Calendar
    first_response_minutes: int
    first_response_from: str  # "journey step", "handoff rule", "SLA policy" or "team default"
    next_response_minutes: int | None = None
    resolution_minutes: int | None = None
    pause_while_waiting: bool = True
    on_breach: str = BreachAction.NOTIFY_LEAD
    alerts_in_business_hours: bool = True
    after_hours_reply: str = ""  # empty: none is sent
    has_hours: bool = False  # the team has a calendar (else 24/7)


@per_scope
def sla_terms(
    *,
    team_id: int,
    priority: str,
    team_default_minutes: int = 0,
    rule_id: int | None = None,
    step_minutes: int | None = None,
) -> SlaTerms:
    """The terms for a handoff of the team at `priority`: two queries (three with a rule), plus
    the calendar's periods and holidays the first time a calendar version is seen. Only a raise
    needs the first-reply target, so only a raise passes the team's default minutes."""
    hours = _team_hours(team_id)
    policy = SlaPolicy.objects.filter(team_id=team_id, priority=priority).first()
    rule_minutes = (
        HandoffRuleSla.objects.filter(rule_id=rule_id)
        .values_list("first_response_minutes", flat=True)
        .first()
        if rule_id is not None and not step_minutes
        else None
    )
    calendar = _calendar_of(hours) if hours is not None else ALWAYS_OPEN
    return terms_from(
        hours=hours,
        policy=policy,
        calendar=calendar,
        rule_minutes=rule_minutes,
        step_minutes=step_minutes,
        team_default_minutes=team_default_minutes,
    )


def terms_from(
    *,
    hours: TeamHours | None,
    policy: SlaPolicy | None,
    calendar: Calendar,
    rule_minutes: int | None,
    step_minutes: int | None,
    team_default_minutes: int,
) -> SlaTerms:
    """The precedence (docs/sla.md), over rows read from the database or a replayed draft's
    (governance/replay/ruleset.py): a step's own first-reply minutes, then the rule's, then the
    team × priority policy's, then the team's default."""
    if step_minutes:
        first, source = step_minutes, "journey step"
    elif rule_minutes:
        first, source = rule_minutes, "handoff rule"
    elif policy is not None and policy.first_response_minutes:
        first, source = policy.first_response_minutes, "SLA policy"
    else:
        first, source = team_default_minutes, "team default"
    reply = ""
    if hours is not None and hours.after_hours_reply_enabled:
        reply = (hours.after_hours_reply or "").strip()
    base = SlaTerms(
        calendar=calendar,
        first_response_minutes=first,
        first_response_from=source,
        after_hours_reply=reply,
        has_hours=hours is not None and hours.calendar_id is not None,
    )
    if policy is None:
        return base
    return replace(
        base,
        next_response_minutes=policy.next_response_minutes,
        resolution_minutes=policy.resolution_minutes,
        pause_while_waiting=policy.pause_while_waiting,
        on_breach=policy.on_breach,
        alerts_in_business_hours=policy.alerts_in_business_hours,
    )


def team_calendar(*, team_id: int) -> Calendar:
    hours = _team_hours(team_id)
    return _calendar_of(hours) if hours is not None else ALWAYS_OPEN


def _team_hours(team_id: int) -> TeamHours | None:
    """The team's hours with its calendar and a fingerprint of the calendar's periods and
    holidays, so a cached Calendar is rebuilt when any of them changes."""
    return (
        TeamHours.objects.filter(team_id=team_id)
        .select_related("calendar")
        .annotate(
            periods_n=Count("calendar__periods", distinct=True),
            periods_top=Max("calendar__periods__id"),
            holidays_n=Count("calendar__holidays", distinct=True),
            holidays_top=Max("calendar__holidays__id"),
        )
        .first()
    )


_lock = threading.Lock()
_calendars: dict[int, tuple[Any, Calendar]] = {}


def _calendar_of(hours: TeamHours) -> Calendar:
    row = hours.calendar
    if row is None:
        return ALWAYS_OPEN
    version = (
        row.updated_at,
        hours.periods_n,  # type: ignore[attr-defined]
        hours.periods_top,  # type: ignore[attr-defined]
        hours.holidays_n,  # type: ignore[attr-defined]
        hours.holidays_top,  # type: ignore[attr-defined]
    )
    with _lock:
        cached = _calendars.get(row.pk)
    if cached is not None and cached[0] == version:
        return cached[1]
    calendar = calendar_build(row)
    with _lock:
        _calendars[row.pk] = (version, calendar)
    return calendar


def calendar_build(row: BusinessCalendar) -> Calendar:
    """The pure calendar for a stored one."""
    periods = [
        (p.weekday, p.starts, p.ends) for p in row.periods.all().only("weekday", "starts", "ends")
    ]
    return calendar_of(row, periods, row.holidays.values_list("date", flat=True))


def calendar_of(
    row: BusinessCalendar, periods: Iterable[tuple[int, time, time]], holidays: Iterable[date]
) -> Calendar:
    """The pure calendar for a calendar row with these opening periods (weekday, starts, ends)
    and holiday dates — stored ones, or a draft's (governance/replay/ruleset.py). A time zone
    that no longer exists (admin refuses unknown ones) falls back to UTC rather than stopping
    every due time."""
    fields = {
        "periods": tuple(WorkPeriod(*p) for p in periods),
        "always_open": row.always_open,
        "holidays": frozenset(holidays),
        "holiday_country": row.holiday_country,
        "holiday_subdivision": row.holiday_subdivision,
    }
    try:
        return Calendar(time_zone=row.time_zone, **fields)
    except ValueError:
        log.error(
            "calendar %s has an unknown time zone %r; reading it in UTC", row.pk, row.time_zone
        )
        return Calendar(time_zone="UTC", **fields)
