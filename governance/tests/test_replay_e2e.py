"""Replay in a real browser: ops start a replay of a draft from its page, watch the progress bar
while it runs, then read the live and draft columns side by side.

Real Chromium (Playwright) against uvicorn on the pytest PostgreSQL database (see
handoffs/tests/e2e_support.py). To see the bar without racing the replay, the test holds a lock
on the signals table (as a long read elsewhere would): the run starts, counts nothing yet, and
waits; releasing the lock lets it finish."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from django.db import connection

from conftest import PASSWORD, Org
from governance.versions.services import draft_change_save
from handoffs.tests import e2e_support as e2e
from journeys.models import HandoffRule

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

WAIT_MS = 15_000


def lead(external_id: str, budget: int) -> dict[str, Any]:
    return {
        "type": "form_submitted",
        "contact": {"external_id": external_id, "name": f"Lead {external_id}"},
        "properties": {"budget": budget, "currency": "GBP"},
    }


@pytest.mark.django_db(transaction=True)
def test_ops_replay_a_draft_watch_it_run_and_read_both_columns(
    server: e2e.LiveServer, browser: Any, org: Org, api_key: str
) -> None:
    from playwright.sync_api import expect

    for external_id, budget in [("e-1", 60000), ("e-2", 45000), ("e-3", 20000)]:
        status, answer = e2e.post_json(
            f"{server.url}/api/v1/signals/", lead(external_id, budget), api_key=api_key
        )
        assert status == 202, answer
    lower = {"condition": {"path": "properties.budget", "op": ">=", "value": 40000}}
    change = draft_change_save(
        user=org.users["olive"],
        model=HandoffRule,
        pk=org.rule.pk,
        values=lower,
        title="High value from £40,000",
    )
    e2e.set_server_password([org.users["olive"]], PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watch = e2e.ConsoleWatch("olive")
    watch.attach(page, server.url)
    hold = psycopg.connect(e2e.database_url_for(connection.settings_dict))
    try:
        with server.log_on_failure(watch):
            page.goto(
                f"{server.url}/accounts/login/?next=/governance/replay/new/?draft={change.draft_id}"
            )
            page.fill("#id_username", "olive")
            page.fill("#id_password", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(re.compile(r"/governance/replay/new/\?draft=\d+$"))
            expect(page.locator(".replay-changes li")).to_contain_text("condition")
            expect(page.locator("#id_days")).to_have_value("7")
            e2e.screenshot(page, "e2e-replay-start")

            page.fill("#id_days", "0")
            page.click("text=Start the replay")
            expect(page.locator("#replay-error")).to_have_text("Replay from 1 to 90 days.")

            hold.execute("LOCK TABLE journeys_signal IN ACCESS EXCLUSIVE MODE")
            page.fill("#id_days", "3")
            page.select_option("#id_team", label="Sales")
            page.click("text=Start the replay")
            page.wait_for_url(re.compile(r"/governance/replay/\d+/$"))
            bar = page.locator("progress#replay-progress")
            expect(bar).to_be_visible()
            expect(page.locator("#replay-status label")).to_contain_text("Counting")
            e2e.screenshot(page, "e2e-replay-running")

            hold.commit()  # the run goes on; the page's next poll shows the table
            table = page.locator("table.replay-table")
            expect(table).to_be_visible()
            expect(bar).to_have_count(0)
            high_value = table.locator(
                "tr", has=page.locator("th", has_text=re.compile("^High value$"))
            )
            expect(high_value.locator("td")).to_have_text(["1", "2", "+1"])
            expect(high_value.locator("td.delta-up")).to_have_count(1)
            all_breaches = table.locator("tr", has=page.locator("th", has_text="All breaches"))
            expect(all_breaches.locator("td")).to_have_count(3)
            e2e.screenshot(page, "e2e-replay-result")

            page.click("text=Replays")
            expect(page.locator("table.replay-runs tbody tr")).to_have_count(1)
            expect(page.locator(".run-status")).to_have_text("Done")
            assert not e2e.csp_violations([watch]), watch.report()
            refused = "replay/new/?draft="  # the 0 days above: a 400 by design
            assert not [p for p in watch.problems() if refused not in p], watch.report()
    finally:
        hold.close()
        context.close()
