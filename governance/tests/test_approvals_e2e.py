"""Approving a held message in a real browser: a discount offer automation wrote is held; the
Sales Director opens the approval handoff, sees the words that held it marked, edits the text and
sends it — and the page shows it went out, with no console or CSP errors.

Real Chromium (Playwright) against uvicorn on the pytest PostgreSQL database with Redis (see
handoffs/tests/e2e_support.py); run last with the other browser tests."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import PASSWORD, Org
from governance.tests.test_approvals import offer_journey
from governance.tests.test_policies_support import day_zone, tone_rule
from handoffs.tests import e2e_support as e2e

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

WAIT_MS = 15_000


@pytest.mark.django_db(transaction=True)
def test_a_director_edits_and_sends_a_held_offer(
    server: e2e.LiveServer, browser: Any, org: Org, api_key: str
) -> None:
    from playwright.sync_api import expect

    from governance.policies.models import Approval
    from handoffs.models import Message

    tone_rule(name="No promises", kind="promise")
    offer_journey(org)
    e2e.set_server_password([org.users["sam"]], PASSWORD)
    body = {
        "type": "trial_started",
        "contact": {
            "external_id": "c-e2e-offer",
            "name": "Tess Trial",
            "email": "tess@example.com",
            "timezone": day_zone(),
        },
    }
    status, answer = e2e.post_json(f"{server.url}/api/v1/signals/", body, api_key=api_key)
    assert status == 202, answer
    approval = Approval.objects.get()

    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watch = e2e.ConsoleWatch("sam")
    watch.attach(page, server.url)
    try:
        with server.log_on_failure(watch):
            page.goto(f"{server.url}/accounts/login/?next=/inbox/")
            page.fill("#id_username", "sam")
            page.fill("#id_password", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(f"{server.url}/inbox/")
            row = page.locator("#inbox-rows .row", has_text="Tess Trial")
            expect(row).to_contain_text("Approval")

            page.goto(f"{server.url}/handoffs/{approval.handoff_id}/")
            held = page.locator(f"#approval-{approval.pk}")
            expect(held.locator("mark[data-finding=promise]")).to_have_text("20% off")
            expect(held).to_contain_text("discount promise")
            expect(held).to_contain_text("Reject (do not send)")  # what expiry would do
            e2e.screenshot(page, "e2e-approval-held")

            held.locator("summary", has_text="Edit and send").click()
            box = held.locator("textarea[name=text]")
            box.fill("Hi Tess, Sam here. Shall we look at the right plan for your team together?")
            held.locator("[data-edit-send]").click()

            decided = page.locator(f"#approval-{approval.pk} [data-decided]")
            expect(decided).to_contain_text("Edited and sent by you")
            expect(page.locator(f"#approval-{approval.pk} [data-edited-text]")).to_contain_text(
                "Shall we look at the right plan"
            )
            expect(page.locator("#handoff-panel .status")).to_have_text("Resolved")
            expect(page.locator("#conversation")).to_contain_text("Shall we look at the right plan")
            expect(page.locator(f"#approval-{approval.pk} [data-approve]")).to_have_count(0)
            e2e.screenshot(page, "e2e-approval-sent")
        assert e2e.csp_violations([watch]) == []
        assert watch.problems() == []
    finally:
        context.close()
    sent = Message.objects.get(step="offer")
    assert sent.author == org.users["sam"] and sent.body.startswith("Hi Tess, Sam here.")
