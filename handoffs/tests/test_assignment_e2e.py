"""In a real browser: a rep reaches the topbar's status control with the keyboard, sets
themselves available, and the handoff waiting in their round-robin team arrives in their inbox
as theirs, live; their lead sees it on the team's availability table."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest

from conftest import PASSWORD, Org, key_client, signal_body
from handoffs.models import Handoff
from handoffs.tests import e2e_support as e2e
from portal.models import Availability
from portal.services import availability_set_hours, team_set_assignment_mode

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

WAIT_MS = 15_000
ALL_DAY = [(d, time(0), time(0)) for d in range(7)]


def log_in(page: Any, server: e2e.LiveServer, username: str) -> None:
    page.goto(f"{server.url}/accounts/login/?next=/inbox/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{server.url}/inbox/")


@pytest.mark.django_db(transaction=True)
def test_a_rep_sets_themselves_available_and_the_waiting_handoff_arrives_as_theirs(
    server: e2e.LiveServer, browser: Any, org: Org, api_key: str
) -> None:
    riley, sam = org.users["riley"], org.users["sam"]
    e2e.set_server_password([riley, sam], PASSWORD)
    availability_set_hours(user=riley, time_zone="Europe/London", periods=ALL_DAY)
    team_set_assignment_mode(team=org.teams["sales"], mode="round_robin")
    # A high-value handoff waiting in the pool: the director and riley are both offline.
    waiting = signal_body(external_id="c-wait", budget=90000)
    waiting["contact"]["name"] = "Wanda Waiting"
    assert key_client(api_key).post("/api/v1/signals/", waiting, format="json").status_code == 202
    handoff = Handoff.objects.get(contact__external_id="c-wait")
    assert handoff.assignee is None

    watches = []
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watch = e2e.ConsoleWatch("riley")
    watch.attach(page, server.url)
    watches.append(watch)
    try:
        with server.log_on_failure(watch):
            log_in(page, server, "riley")
            page.wait_for_selector("#live-status.on")
            row = page.locator("#inbox-rows .row", has_text="Wanda Waiting")
            row.get_by_text("Unassigned").wait_for()
            control = page.locator("select#my-status-select")
            control.wait_for()
            assert control.input_value() == "offline"

            for _ in range(20):  # reachable from the keyboard, in the topbar's tab order
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement.id") == "my-status-select":
                    break
            else:
                pytest.fail("the status control is not reachable with Tab")
            control.select_option("available")

            page.get_by_text("Status set to Available.").wait_for(state="attached")
            row.get_by_text("Claimed by you", exact=True).wait_for()  # live, no reload
            assert Availability.objects.get(user=riley).status == "available"
            assert Handoff.objects.get(pk=handoff.pk).assignee == riley
            e2e.screenshot(page, "e2e-assignment-riley-available")

            lead = browser.new_context(viewport={"width": 1360, "height": 900})
            lead_page = lead.new_page()
            sam_watch = e2e.ConsoleWatch("sam")
            sam_watch.attach(lead_page, server.url)
            watches.append(sam_watch)
            log_in(lead_page, server, "sam")
            lead_page.goto(f"{server.url}/me/availability/")
            table = lead_page.locator("table.avail-table")
            riley_row = table.locator("tr", has_text="Riley Reed")
            assert "Available" in riley_row.inner_text()
            assert "1 / 5" in riley_row.inner_text()
            e2e.screenshot(lead_page, "e2e-assignment-sam-team-availability")
            lead.close()
        assert e2e.csp_violations(watches) == []
        assert [p for w in watches for p in w.problems()] == []
    finally:
        context.close()
