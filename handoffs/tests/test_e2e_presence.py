"""Who's viewing and the soft reply lock in two real browsers: Riley and Rob, both Sales reps,
open the same unassigned handoff and see each other; Riley types and Rob sees "Riley Reed is
replying…"; Rob sends anyway, is asked to confirm, confirms, and his message appears for both.

Real Chromium (Playwright) against uvicorn on the pytest PostgreSQL database with Redis (see
handoffs/tests/e2e_support.py); run last with the other browser tests."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import PASSWORD, Org, signal_body
from handoffs.tests import e2e_support as e2e

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

WAIT_MS = 15_000


def open_handoff(
    browser: Any, server: e2e.LiveServer, watch: e2e.ConsoleWatch, handoff_url: str
) -> Any:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watch.attach(page, server.url)
    username = watch.name
    page.goto(f"{server.url}/accounts/login/?next={handoff_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{server.url}{handoff_url}")
    page.wait_for_selector("#live-status.on")
    return page


@pytest.mark.django_db(transaction=True)
def test_two_reps_see_each_other_one_types_the_other_confirms_and_sends(
    server: e2e.LiveServer, browser: Any, org: Org, api_key: str
) -> None:
    from playwright.sync_api import expect

    from handoffs.models import Handoff

    e2e.set_server_password([org.users["riley"], org.users["rob"]], PASSWORD)
    status, answer = e2e.post_json(
        f"{server.url}/api/v1/signals/", signal_body(budget=60000, key="e2e-lock"), api_key=api_key
    )
    assert status == 202, answer
    handoff = Handoff.objects.get(contact__external_id="c-1001")
    assert handoff.assignee_id is None  # Sales is manual in the test org: both may reply
    url = f"/handoffs/{handoff.pk}/"

    watches = [e2e.ConsoleWatch("riley"), e2e.ConsoleWatch("rob")]
    riley = open_handoff(browser, server, watches[0], url)
    rob = open_handoff(browser, server, watches[1], url)
    expect.set_options(timeout=WAIT_MS)  # a busy machine may take longer than the 5 s default
    try:
        with server.log_on_failure(*watches):
            # Each sees the other, never themselves.
            expect(riley.locator("#presence .viewer")).to_have_text(["RRRob Rowe"])
            expect(rob.locator("#presence .viewer")).to_have_text(["RRRiley Reed"])
            expect(riley.locator("#presence")).to_contain_text("Viewing:")
            expect(rob.locator("#reply-lock")).to_be_hidden()
            e2e.screenshot(riley, "e2e-presence-riley-sees-rob")

            # Riley types: Rob sees her replying; she does not see herself.
            riley.locator("#reply-body").press_sequentially("Hi Ada, Riley from Sales here")
            expect(rob.locator("#reply-lock")).to_have_text("Riley Reed is replying…")
            expect(riley.locator("#reply-lock")).to_be_hidden()
            e2e.screenshot(rob, "e2e-presence-rob-sees-riley-replying")

            # Rob writes and sends anyway: not sent, he is asked, his draft kept.
            rob.locator("#reply-body").fill("Hello Ada, this is Rob")
            rob.get_by_role("button", name="Send reply").click()
            confirm = rob.locator("#lock-confirm")
            expect(confirm).to_contain_text("Riley Reed is replying — send anyway?")
            expect(rob.locator("#reply-body")).to_have_value("Hello Ada, this is Rob")
            expect(rob.locator("#conversation .msg-out")).to_have_count(0)
            expect(rob.locator("#reply-lock")).to_have_text("Riley Reed is replying…")
            e2e.screenshot(rob, "e2e-presence-rob-asked-to-confirm")

            # He confirms: the message goes out, for him and live for Riley.
            confirm.get_by_role("button", name="Send anyway").click()
            expect(rob.locator("#conversation .msg-out")).to_contain_text("Hello Ada, this is Rob")
            expect(rob.locator("#lock-confirm")).to_have_count(0)
            expect(rob.locator("#reply-body")).to_have_value("")
            expect(riley.locator("#conversation .msg-out")).to_contain_text(
                "Hello Ada, this is Rob"
            )
            expect(riley.locator("#handoff-history")).to_contain_text(
                "Replied by Rob Rowe while Riley Reed was replying"
            )
            expect(riley.locator("#owner")).to_have_text("Claimed by Rob Rowe")
            # Rob owns it now: Riley's lock no longer counts, so Rob sees no one replying.
            expect(rob.locator("#reply-lock")).to_be_hidden()
            e2e.screenshot(rob, "e2e-presence-rob-sent")
            e2e.screenshot(riley, "e2e-presence-riley-after")

            # Rob closes the tab: Riley sees him go (on a loaded machine the close can take a
            # while to reach the server; the viewer TTL is the backstop).
            rob.close()
            expect(riley.locator("#presence .viewer")).to_have_count(0, timeout=60_000)
        problems = [p for w in watches for p in w.problems()]
        assert e2e.csp_violations(watches) == []
        assert problems == []
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default, for the tests after this one
        for page in (riley, rob):
            page.context.close()
