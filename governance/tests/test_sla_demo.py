"""The demo's SLA setup (governance/demo.py): what it creates, and that running it again
changes nothing, not even what ops edited since."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group

from conftest import Org
from governance.demo import seed_governance
from governance.models import BusinessCalendar, HandoffRuleSla, SlaPolicy, TeamHours
from governance.selectors import team_calendar
from handoffs.sla import add_business_time, is_open

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count() for m in (BusinessCalendar, TeamHours, SlaPolicy, HandoffRuleSla)
    )


def test_the_demo_has_uk_hours_for_sales_and_support_and_success_round_the_clock(org: Org):
    seed_governance()
    assert counts() == (3, 3, 12, 1)
    sales = team_calendar(team_id=org.teams["sales"].pk)
    support = team_calendar(team_id=org.teams["support"].pk)
    success = team_calendar(team_id=org.teams["success"].pk)
    monday_lunch = datetime(2026, 11, 23, 12, 45, tzinfo=UTC)  # GMT in November
    assert is_open(monday_lunch, sales) and not is_open(monday_lunch, support)
    christmas = datetime(2026, 12, 25, 10, tzinfo=UTC)
    assert not is_open(christmas, sales) and not is_open(christmas, support)
    assert is_open(christmas, success)
    assert team_calendar(team_id=org.teams["marketing"].pk).round_the_clock  # untouched

    low = {p.team.slug: p for p in SlaPolicy.objects.filter(priority="low")}
    assert (low["sales"].first_response_minutes, low["support"].first_response_minutes) == (
        510,
        450,
    )
    assert low["success"].first_response_minutes == 1440
    urgent = SlaPolicy.objects.get(team=org.teams["sales"], priority="urgent")
    assert (urgent.first_response_minutes, urgent.on_breach) == (15, "reassign_lead")
    # A low-priority Friday-evening handoff in Support is due a business day later: Monday.
    friday_evening = datetime(2026, 11, 20, 18, tzinfo=UTC)
    assert add_business_time(friday_evening, 450, support) == datetime(
        2026, 11, 23, 17, 30, tzinfo=UTC
    )
    assert Group.objects.get(name="Ops").permissions.filter(codename="change_slapolicy").exists()
    assert HandoffRuleSla.objects.get().rule == org.rule


def test_running_it_again_creates_nothing_and_keeps_ops_edits(org: Org):
    seed_governance()
    SlaPolicy.objects.filter(team=org.teams["sales"], priority="high").update(
        first_response_minutes=45
    )
    before = counts()
    seed_governance()
    assert counts() == before
    assert (
        SlaPolicy.objects.get(team=org.teams["sales"], priority="high").first_response_minutes == 45
    )
