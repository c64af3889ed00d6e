"""My availability: the topbar's status control (htmx), the working-hours page, the lead's view
of their teams, and availability and assignment mode in admin."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission

from conftest import Org
from portal.models import Availability, Team, WorkingPeriod
from portal.services import availability_set_hours, availability_set_status, membership_set

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def riley(org: Org, client: Any) -> Any:
    client.force_login(org.users["riley"])
    return client


def test_every_page_loads_my_status_into_the_topbar(riley: Any):
    page = riley.get("/inbox/").content.decode()
    assert 'hx-get="/me/availability/status/"' in page
    assert 'href="/me/availability/"' in page  # without JavaScript, a link

    control = riley.get("/me/availability/status/", **HTMX)

    assert control.status_code == 200
    html = control.content.decode()
    assert '<select id="my-status-select" name="status"' in html
    assert '<option value="offline" selected>Offline</option>' in html
    assert 'hx-post="/me/availability/status/"' in html


def test_setting_my_status_with_htmx_saves_it_and_returns_the_control(org: Org, riley: Any):
    response = riley.post("/me/availability/status/", {"status": "available"}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="available" selected>Available</option>' in html
    assert "Status set to Available." in html  # announced to screen readers
    availability = Availability.objects.get(user=org.users["riley"])
    assert availability.status == "available"
    assert availability.status_changed_at is not None


@pytest.mark.parametrize("bad", ["", "on_holiday", "AVAILABLE", "x" * 500])
def test_an_unknown_status_is_a_400_with_a_message_and_changes_nothing(
    org: Org, riley: Any, bad: str
):
    availability_set_status(user=org.users["riley"], status="busy")

    response = riley.post("/me/availability/status/", {"status": bad}, **HTMX)

    assert response.status_code == 400
    assert "Unknown availability status." in response.content.decode()
    assert Availability.objects.get(user=org.users["riley"]).status == "busy"


def test_without_htmx_the_status_form_redirects_back_to_the_page(org: Org, riley: Any):
    response = riley.post("/me/availability/status/", {"status": "away"})

    assert response.status_code == 302
    assert response["Location"] == "/me/availability/"
    assert Availability.objects.get(user=org.users["riley"]).status == "away"
    bad = riley.post("/me/availability/status/", {"status": "gone"})
    assert bad.status_code == 400
    assert "Unknown availability status." in bad.content.decode()


def test_the_page_shows_my_hours_and_capacity(org: Org, riley: Any):
    availability_set_hours(
        user=org.users["riley"],
        time_zone="Europe/London",
        periods=[(0, time(9), time(12)), (0, time(13), time(17, 30)), (4, time(22), time(6))],
    )

    html = riley.get("/me/availability/").content.decode()

    assert 'value="Europe/London"' in html
    assert 'name="mon" value="09:00-12:00, 13:00-17:30"' in html
    assert 'name="fri" value="22:00-06:00"' in html
    assert "5 active handoffs" in html
    assert "passes you over: offline" in html
    assert "Sales" not in html.split("<main", 1)[1]  # a rep sees no team table


def test_saving_working_hours_replaces_them(org: Org, riley: Any):
    availability_set_hours(
        user=org.users["riley"], time_zone="UTC", periods=[(2, time(8), time(9))]
    )
    form = {
        "time_zone": "America/New_York",
        "mon": "09:00-17:00",
        "tue": "9:00 – 12:00, 22:00-24:00",
    }

    response = riley.post("/me/availability/", form)

    assert response.status_code == 302
    availability = Availability.objects.get(user=org.users["riley"])
    assert availability.time_zone == "America/New_York"
    periods = [(p.weekday, p.starts, p.ends) for p in availability.periods.all()]
    assert periods == [
        (0, time(9), time(17)),
        (1, time(9), time(12)),
        (1, time(22), time(0)),
    ]


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"time_zone": "Mars/Olympus", "mon": "09:00-17:00"}, "time_zone", "Unknown time zone"),
        ({"time_zone": "UTC", "mon": "9 to 5"}, "mon", "is not a period"),
        ({"time_zone": "UTC", "wed": "09:00-17:00, 25:00-26:00"}, "wed", "not a time of day"),
        ({"time_zone": "UTC", "sun": "09:75-10:00"}, "sun", "not a time of day"),
        ({"mon": "09:00-17:00"}, "time_zone", "This field is required"),
    ],
)
def test_bad_working_hours_are_a_400_naming_the_field_and_change_nothing(
    org: Org, riley: Any, form: dict[str, str], field: str, message: str
):
    availability_set_hours(
        user=org.users["riley"], time_zone="UTC", periods=[(2, time(8), time(9))]
    )

    response = riley.post("/me/availability/", form)

    assert response.status_code == 400
    html = response.content.decode()
    assert "Your working hours were not saved." in html
    assert f'id="{field}-errors"' in html or (field == "time_zone" and "time-zone-errors" in html)
    assert message in html
    availability = Availability.objects.get(user=org.users["riley"])
    assert availability.time_zone == "UTC"
    assert [(p.weekday, p.starts) for p in availability.periods.all()] == [(2, time(8))]


def test_a_lead_sees_their_teams_people_and_why_auto_assignment_passes_them_over(
    org: Org, client: Any
):
    availability_set_hours(user=org.users["riley"], time_zone="UTC", periods=[])
    availability_set_status(user=org.users["riley"], status="available")
    availability_set_status(user=org.users["rob"], status="busy")
    client.force_login(org.users["sam"])

    html = client.get("/me/availability/").content.decode()

    table = html.split('<table class="avail-table">', 1)[1]
    assert "Riley Reed" in table and "no working hours set" in table
    assert "Rob Rowe" in table and ">busy<" in table.replace('<span class="muted">', ">")
    assert "Sam Shah" in table
    assert "Manual (people claim from the pool)" in html
    assert "Casey" not in table  # not sam's team


def test_my_availability_needs_a_login(client: Any, db: Any):
    assert client.get("/me/availability/").status_code == 302
    assert client.post("/me/availability/status/", {"status": "available"}).status_code == 302


def test_ops_set_capacity_and_hours_in_admin_for_their_teams_only(org: Org, client: Any):
    olive = org.users["olive"]
    group = Group.objects.create(name="Ops availability")
    for codename in [
        "view_availability",
        "add_availability",
        "change_availability",
        "view_workingperiod",
        "add_workingperiod",
        "change_workingperiod",
        "delete_workingperiod",
    ]:
        group.permissions.add(Permission.objects.get(codename=codename))
    olive.groups.add(group)
    client.force_login(olive)
    riley = org.users["riley"]
    availability_set_status(user=riley, status="busy")
    availability = Availability.objects.get(user=riley)

    form = {
        "user": str(riley.pk),
        "status": "available",
        "time_zone": "Europe/London",
        "capacity": "8",
        "periods-TOTAL_FORMS": "1",
        "periods-INITIAL_FORMS": "0",
        "periods-MIN_NUM_FORMS": "0",
        "periods-MAX_NUM_FORMS": "1000",
        "periods-0-weekday": "0",
        "periods-0-starts": "09:00",
        "periods-0-ends": "17:00",
    }
    response = client.post(f"/admin/portal/availability/{availability.pk}/change/", form)

    assert response.status_code == 302
    availability.refresh_from_db()
    assert (availability.status, availability.capacity) == ("available", 8)
    assert WorkingPeriod.objects.filter(availability=availability).count() == 1
    bad = client.post(
        f"/admin/portal/availability/{availability.pk}/change/",
        {**form, "time_zone": "Nowhere/Else", "capacity": "2"},
    )
    assert bad.status_code == 200 and "Unknown time zone" in bad.content.decode()
    assert Availability.objects.get(pk=availability.pk).capacity == 8

    outsider = Team.objects.create(slug="ext", name="External")
    stranger = type(riley).objects.create_user(username="stranger")
    membership_set(user=stranger, team=outsider, role="rep")
    availability_set_status(user=stranger, status="busy")
    listing = client.get("/admin/portal/availability/").content.decode()
    assert "riley" in listing and "stranger" not in listing


def test_ops_switch_a_team_to_round_robin_in_admin(org: Org, client: Any):
    olive = org.users["olive"]
    olive.is_superuser = True
    olive.save()
    client.force_login(olive)
    sales = org.teams["sales"]
    form = {
        "slug": sales.slug,
        "name": sales.name,
        "first_response_minutes": "15",
        "reopen_window_minutes": str(sales.reopen_window_minutes),
        "assignment_mode": "round_robin",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }

    response = client.post(f"/admin/portal/team/{sales.pk}/change/", form)

    assert response.status_code == 302
    sales.refresh_from_db()
    assert sales.assignment_mode == "round_robin"
    del form["assignment_mode"]  # a form from before assignment existed keeps the mode
    assert client.post(f"/admin/portal/team/{sales.pk}/change/", form).status_code == 302
    sales.refresh_from_db()
    assert sales.assignment_mode == "round_robin"


def test_the_lead_page_makes_the_same_queries_for_a_big_team(org: Org, client: Any):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add_reps(n: int, start: int) -> None:
        for i in range(start, start + n):
            rep = get_user_model().objects.create_user(username=f"rep{i}")
            membership_set(user=rep, team=org.teams["sales"], role="rep")
            availability_set_hours(user=rep, time_zone="UTC", periods=[(0, time(9), time(17))])

    client.force_login(org.users["sam"])
    add_reps(10, 0)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/me/availability/").status_code == 200
    add_reps(40, 10)
    with CaptureQueriesContext(connection) as large:
        html = client.get("/me/availability/").content.decode()

    assert "rep49" in html
    assert len(large) == len(small)


def test_the_demo_makes_people_available_and_sales_round_robin_once(db: Any):
    from io import StringIO

    from django.core.management import call_command

    call_command("seed_demo", stdout=StringIO())
    sales = Team.objects.get(slug="sales")
    assert sales.assignment_mode == "round_robin"
    assert Team.objects.get(slug="success").assignment_mode == "manual"
    statuses = dict(Availability.objects.values_list("user__username", "status"))
    assert statuses == dict.fromkeys(["riley", "sam", "casey", "morgan"], "available")
    riley = Availability.objects.get(user__username="riley")
    assert riley.periods.count() == 7

    availability_set_status(user=riley.user, status="away")
    call_command("seed_demo", stdout=StringIO())  # again: what people changed stays

    assert Availability.objects.get(user__username="riley").status == "away"


def test_a_lead_switches_their_team_to_least_loaded_and_waiting_work_is_handed_out(
    org: Org, client: Any, django_capture_on_commit_callbacks: Any
):
    from handoffs.tests.test_assignment_service import available, raise_handoff

    waiting = raise_handoff(org)
    available(org.users["riley"])
    client.force_login(org.users["sam"])
    sales = org.teams["sales"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/teams/{sales.slug}/assignment/", {"mode": "least_loaded"})

    assert response.status_code == 302
    sales.refresh_from_db()
    assert sales.assignment_mode == "least_loaded"
    waiting.refresh_from_db()
    assert (waiting.status, waiting.assignee) == ("claimed", org.users["riley"])
    page = client.get("/me/availability/").content.decode()
    assert '<option value="least_loaded" selected>' in page


def test_a_rep_cannot_change_the_assignment_mode(org: Org, client: Any):
    client.force_login(org.users["riley"])
    sales = org.teams["sales"]

    response = client.post(f"/teams/{sales.slug}/assignment/", {"mode": "round_robin"})

    assert response.status_code == 403
    assert "leads can change" in response.content.decode()
    sales.refresh_from_db()
    assert sales.assignment_mode == "manual"


def test_another_teams_lead_gets_a_404_and_a_bad_mode_a_400(org: Org, client: Any):
    client.force_login(org.users["sam"])
    support = next(t for slug, t in org.teams.items() if slug != "sales")

    response = client.post(f"/teams/{support.slug}/assignment/", {"mode": "round_robin"})
    assert response.status_code == 404
    response = client.post(f"/teams/{org.teams['sales'].slug}/assignment/", {"mode": "lottery"})
    assert response.status_code == 400
    assert "Choose one of" in response.content.decode()
    assert Team.objects.filter(assignment_mode="manual").count() == Team.objects.count()
