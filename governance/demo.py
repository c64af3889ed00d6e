"""The demo's SLA setup (docs/sla.md): UK business hours for Sales, the support desk's hours
with a lunch break for Support (both close on English bank holidays), Success round the clock,
a policy per priority for each, and after-hours replies. `seed_governance()` is idempotent: a
second run creates nothing and never undoes what ops changed since."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from governance.choices import BreachAction
from governance.models import (
    AFTER_HOURS_REPLY,
    BusinessCalendar,
    HandoffRuleSla,
    OpeningPeriod,
    SlaPolicy,
    TeamHours,
)
from governance.selectors import calendar_build
from handoffs.choices import Priority
from handoffs.sla import business_time_between
from journeys.models import HandoffRule
from portal.models import Team

WEEKDAYS = range(5)
# name, owning team (None: shared), 24/7, periods (starts, ends) each weekday
CALENDARS = [
    ("UK business hours", "sales", False, [("09:00", "17:30")]),
    ("UK support desk", "support", False, [("09:00", "12:30"), ("13:30", "17:30")]),
    ("Always open", None, True, []),
]
TEAM_CALENDARS = {
    "sales": "UK business hours",
    "support": "UK support desk",
    "success": "Always open",
}
FIRST_REPLY = {Priority.URGENT: 15, Priority.HIGH: 60, Priority.NORMAL: 240}  # low: a day
RESOLVE_DAYS = {Priority.URGENT: 1, Priority.HIGH: 2, Priority.NORMAL: 3, Priority.LOW: 5}
ON_BREACH = {
    Priority.URGENT: BreachAction.REASSIGN_TO_LEAD,
    Priority.HIGH: BreachAction.NOTIFY_LEAD,
    Priority.NORMAL: BreachAction.NOTIFY_LEAD,
    Priority.LOW: BreachAction.FLAG_ONLY,
}
OPS_MODELS = [
    "businesscalendar",
    "openingperiod",
    "holiday",
    "teamhours",
    "slapolicy",
    "handoffrulesla",
]


@transaction.atomic
def seed_governance() -> None:
    calendars = {
        name: _calendar(name, team, always, hours) for name, team, always, hours in CALENDARS
    }
    teams = {t.slug: t for t in Team.objects.filter(slug__in=TEAM_CALENDARS)}
    for slug, team in teams.items():
        calendar = calendars[TEAM_CALENDARS[slug]]
        TeamHours.objects.get_or_create(
            team=team,
            defaults={"calendar": calendar, "after_hours_reply": AFTER_HOURS_REPLY},
        )
        day = _business_day_minutes(calendar)
        for priority in Priority.values:
            SlaPolicy.objects.get_or_create(
                team=team,
                priority=priority,
                defaults={
                    "first_response_minutes": FIRST_REPLY.get(priority, day),
                    "next_response_minutes": FIRST_REPLY.get(priority, day),
                    "resolution_minutes": RESOLVE_DAYS[priority] * day,
                    "on_breach": ON_BREACH[priority],
                },
            )
    # A £50,000 budget is worth ten minutes, whatever its priority's policy says.
    high_value = HandoffRule.objects.filter(name="High value").first()
    if high_value is not None:
        HandoffRuleSla.objects.get_or_create(
            rule=high_value, defaults={"first_response_minutes": 10}
        )
    ops, _ = Group.objects.get_or_create(name="Ops")
    ops.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="governance", content_type__model__in=OPS_MODELS
        )
    )


def _calendar(
    name: str, team_slug: str | None, always: bool, hours: list[tuple[str, str]]
) -> BusinessCalendar:
    found = BusinessCalendar.objects.filter(name=name).first()
    if found is not None:
        return found
    team = Team.objects.filter(slug=team_slug).first() if team_slug else None
    calendar = BusinessCalendar.objects.create(
        name=name,
        team=team,
        time_zone="Europe/London",
        always_open=always,
        holiday_country="" if always else "GB",
        holiday_subdivision="" if always else "ENG",
    )
    OpeningPeriod.objects.bulk_create(
        OpeningPeriod(
            calendar=calendar,
            weekday=day,
            starts=time.fromisoformat(starts),
            ends=time.fromisoformat(ends),
        )
        for day in WEEKDAYS
        for starts, ends in hours
    )
    return calendar


def _business_day_minutes(row: BusinessCalendar) -> int:
    """How long the calendar is open on an ordinary Monday (23 Nov 2026), in minutes."""
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    opened = business_time_between(monday, monday + timedelta(days=1), calendar_build(row))
    return int(opened.total_seconds() // 60) or 24 * 60
