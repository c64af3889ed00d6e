"""SLA policies, calendars and team hours in admin (docs/sla.md): each mistake is named and
nothing is saved, and ops change only their own teams' rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from conftest import Org
from governance.demo import OPS_MODELS
from governance.models import BusinessCalendar, OpeningPeriod, SlaPolicy, TeamHours
from portal.services import membership_set

pytestmark = pytest.mark.django_db

CALENDARS = "/admin/governance/businesscalendar/"
POLICIES = "/admin/governance/slapolicy/"
HOURS = "/admin/governance/teamhours/"


def ops_of(org: Org, *teams: str) -> Any:
    """An ops person granted `teams`, with permission to edit the SLA models."""
    group = Group.objects.create(name="SLA ops")
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="governance", content_type__model__in=OPS_MODELS
        )
    )
    user = get_user_model().objects.create_user("opal", password="x", is_staff=True)
    user.groups.add(group)
    for slug in teams:
        membership_set(user=user, team=org.teams[slug], role="ops")
    return user


@pytest.fixture
def opal(org: Org, client: Client) -> Client:
    client.force_login(ops_of(org, "sales"))
    return client


def calendar_form(
    org: Org,
    periods: list[tuple[int, str, str, bool]],
    holidays: list[str] = (),
    **fields: str,
) -> dict[str, str]:
    data = {
        "name": "Sales office",
        "team": str(org.teams["sales"].pk),
        "time_zone": "Europe/London",
        "holiday_country": "gb",
        "holiday_subdivision": "eng",
        "periods-TOTAL_FORMS": str(len(periods)),
        "periods-INITIAL_FORMS": "0",
        "periods-MIN_NUM_FORMS": "0",
        "periods-MAX_NUM_FORMS": "1000",
        "holidays-TOTAL_FORMS": str(len(holidays)),
        "holidays-INITIAL_FORMS": "0",
        "holidays-MIN_NUM_FORMS": "0",
        "holidays-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, (weekday, starts, ends, overnight) in enumerate(periods):
        data |= {
            f"periods-{i}-weekday": str(weekday),
            f"periods-{i}-starts": starts,
            f"periods-{i}-ends": ends,
        }
        if overnight:
            data[f"periods-{i}-overnight"] = "on"
    for i, day in enumerate(holidays):
        data |= {f"holidays-{i}-date": day, f"holidays-{i}-name": "Office party"}
    return data


def errors_of(response: Any) -> str:
    assert response.status_code == 200, response.status_code  # the form again, not a redirect
    return response.content.decode()


def test_a_good_calendar_with_a_lunch_break_and_a_night_shift_is_saved(org: Org, opal: Client):
    response = opal.post(
        f"{CALENDARS}add/",
        calendar_form(
            org,
            [
                (0, "09:00", "12:30", False),
                (0, "13:30", "17:30", False),
                (0, "22:00", "06:00", True),
                (6, "22:00", "00:00", False),  # until midnight
            ],
            holidays=["2026-12-24"],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    calendar = BusinessCalendar.objects.get(name="Sales office")
    assert (calendar.holiday_country, calendar.holiday_subdivision) == ("GB", "ENG")
    assert calendar.periods.count() == 4 and calendar.holidays.count() == 1
    listing = opal.get(CALENDARS).content.decode()
    assert "Sales office" in listing and "GB/ENG, +1 dates" in listing
    assert "Mon 09:00–12:30, 13:30–17:30, 22:00–06:00; Sun 22:00–00:00" in listing


@pytest.mark.parametrize(
    ("periods", "fields", "message"),
    [
        (
            [(0, "09:00", "12:30", False), (0, "12:00", "14:00", False)],
            {},
            "Monday 09:00–12:30 overlaps Monday 12:00–14:00",
        ),
        (
            [(6, "22:00", "06:00", True), (0, "05:00", "09:00", False)],
            {},
            "Sunday 22:00–06:00 overlaps Monday 05:00–09:00",
        ),
        (
            [(1, "17:00", "09:00", False)],
            {},
            "Ends at 09:00, before it starts at 17:00. Tick overnight",
        ),
        ([(1, "09:00", "17:00", True)], {}, "An overnight period ends the next morning"),
        ([], {}, "Add at least one opening period, or tick “open 24/7”"),
        (
            [(0, "09:00", "17:00", False)],
            {"holiday_country": "XX"},
            "Unknown country &#x27;XX&#x27; for holidays",
        ),
        (
            [(0, "09:00", "17:00", False)],
            {"holiday_subdivision": "ATLANTIS"},
            "GB has no subdivision &#x27;ATLANTIS&#x27;",
        ),
        (
            [(0, "09:00", "17:00", False)],
            {"time_zone": "Europe/Atlantis"},
            "Unknown time zone &#x27;Europe/Atlantis&#x27;",
        ),
    ],
)
def test_a_bad_calendar_is_refused_with_a_clear_reason_and_nothing_saved(
    org: Org, opal: Client, periods: list[Any], fields: dict[str, str], message: str
):
    page = errors_of(opal.post(f"{CALENDARS}add/", calendar_form(org, periods, **fields)))
    assert message in page
    assert not BusinessCalendar.objects.exists()
    assert not OpeningPeriod.objects.exists()


def test_a_24_7_calendar_needs_no_periods(org: Org, opal: Client):
    response = opal.post(f"{CALENDARS}add/", calendar_form(org, [], always_open="on"))
    assert response.status_code == 302
    assert BusinessCalendar.objects.get().always_open


def test_ops_edit_their_teams_rows_read_shared_ones_and_never_see_other_teams(
    org: Org, opal: Client
):
    mine = BusinessCalendar.objects.create(name="Sales hours", team=org.teams["sales"])
    shared = BusinessCalendar.objects.create(name="Always open", always_open=True)
    theirs = BusinessCalendar.objects.create(name="Success hours", team=org.teams["success"])
    listing = opal.get(CALENDARS).content.decode()
    assert "Sales hours" in listing and "Always open" in listing
    assert "Success hours" not in listing
    assert opal.get(f"{CALENDARS}{theirs.pk}/change/").status_code == 302  # "does not exist"
    # The shared calendar is read-only for ops.
    shared_page = opal.get(f"{CALENDARS}{shared.pk}/change/").content.decode()
    assert 'name="name"' not in shared_page
    denied = opal.post(f"{CALENDARS}{shared.pk}/change/", calendar_form(org, [], name="Mine now"))
    assert denied.status_code == 403
    assert 'name="name"' in opal.get(f"{CALENDARS}{mine.pk}/change/").content.decode()
    # Creating one for another team is not on offer.
    page = errors_of(
        opal.post(
            f"{CALENDARS}add/",
            calendar_form(org, [(0, "09:00", "17:00", False)], team=str(org.teams["success"].pk)),
        )
    )
    assert "Select a valid choice" in page


def policy_form(org: Org, team: str = "sales", **fields: str) -> dict[str, str]:
    return {
        "team": str(org.teams[team].pk),
        "priority": "urgent",
        "first_response_minutes": "15",
        "next_response_minutes": "30",
        "resolution_minutes": "240",
        "pause_while_waiting": "on",
        "on_breach": "notify_lead",
        "alerts_in_business_hours": "on",
        **fields,
    }


def test_ops_add_a_policy_for_their_team(org: Org, opal: Client):
    response = opal.post(f"{POLICIES}add/", policy_form(org))
    assert response.status_code == 302
    policy = SlaPolicy.objects.get()
    assert (policy.team, policy.priority, policy.first_response_minutes) == (
        org.teams["sales"],
        "urgent",
        15,
    )
    listing = opal.get(POLICIES).content.decode()
    assert "15 min" in listing and "4 h" in listing


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"first_response_minutes": "0"}, "greater than or equal to 1"),
        ({"resolution_minutes": "-5"}, "greater than or equal to 0"),
        ({"on_breach": "panic"}, "Select a valid choice"),
    ],
)
def test_a_bad_policy_is_refused(org: Org, opal: Client, fields: dict[str, str], message: str):
    assert message in errors_of(opal.post(f"{POLICIES}add/", policy_form(org, **fields)))
    assert not SlaPolicy.objects.exists()


def test_a_second_policy_for_the_same_team_and_priority_is_refused(org: Org, opal: Client):
    SlaPolicy.objects.create(team=org.teams["sales"], priority="urgent")
    page = errors_of(opal.post(f"{POLICIES}add/", policy_form(org)))
    assert "This team already has an SLA policy for this priority." in page
    assert SlaPolicy.objects.count() == 1


def test_ops_cannot_change_another_teams_policy(org: Org, opal: Client):
    theirs = SlaPolicy.objects.create(team=org.teams["success"], priority="urgent")
    listing = opal.get(POLICIES).content.decode()
    assert f"{POLICIES}{theirs.pk}/change/" not in listing
    assert "Success" not in listing  # not even in the team filter
    response = opal.post(
        f"{POLICIES}{theirs.pk}/change/", policy_form(org, team="success", priority="low")
    )
    assert response.status_code == 302  # not in their queryset: admin says it does not exist
    theirs.refresh_from_db()
    assert theirs.priority == "urgent"
    assert "Select a valid choice" in errors_of(
        opal.post(f"{POLICIES}add/", policy_form(org, team="success"))
    )


def test_team_hours_refuse_another_teams_calendar_and_an_empty_reply(org: Org, client: Client):
    admin = org.users["olive"]
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    support = BusinessCalendar.objects.create(name="Support desk", team=org.teams["support"])
    page = errors_of(
        client.post(
            f"{HOURS}add/",
            {
                "team": str(org.teams["sales"].pk),
                "calendar": str(support.pk),
                "after_hours_reply_enabled": "on",
                "after_hours_reply": "  ",
            },
        )
    )
    assert "“Support desk” is Support&#x27;s calendar; pick one of Sales&#x27;s" in page
    assert "Write the reply, or untick sending it." in page
    assert not TeamHours.objects.exists()
