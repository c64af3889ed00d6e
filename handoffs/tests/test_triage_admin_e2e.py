"""Ops try messages on the triage admin in a real browser: from the phrases list, "Try a
message", an angry reply and an FAQ question, each decision shown with its evidence, under the
site's strict CSP with a clean console — and nothing stored.

Real Chromium (Playwright) against the ASGI server (handoffs/tests/e2e_support.py). Runs last
(the `e2e` marker)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from conftest import PASSWORD, Org
from handoffs.models import FaqEntry, Handoff, Message
from handoffs.tests import e2e_support as e2e
from handoffs.tests.test_e2e_browser import LIVE_MS
from handoffs.triage import defaults
from handoffs.triage.choices import FaqStatus

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]


@pytest.fixture
def ops_page(org: Org, browser: Any, server: e2e.LiveServer) -> Iterator[tuple[Any, Any]]:
    olive = org.users["olive"]  # staff with the demo's triage permissions, not a superuser
    olive.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="handoffs",
            codename__in=["view_triagephrase", "view_triagesettings", "view_faqentry"],
        )
    )
    e2e.set_server_password([olive], PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(LIVE_MS)
    page = context.new_page()
    watch = e2e.ConsoleWatch("olive")
    watch.attach(page, server.url)
    try:
        yield page, watch
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_ops_try_messages_and_see_what_triage_would_do(
    server: e2e.LiveServer, ops_page: tuple[Any, Any], org: Org
) -> None:
    page, watch = ops_page
    for question, answer, keywords in defaults.STARTER_FAQ:
        FaqEntry.objects.create(
            question=question, answer=answer, keywords=keywords, status=FaqStatus.APPROVED
        )
    with server.log_on_failure(watch):
        page.goto(f"{server.url}/admin/login/?next=/admin/handoffs/triagephrase/")
        page.fill("#id_username", "olive")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{server.url}/admin/handoffs/triagephrase/")

        page.click("#try-message-link")
        page.wait_for_url(f"{server.url}/admin/handoffs/triagephrase/try/")
        page.get_by_role("button", name="Try it").click()  # empty: a clear error, no decision
        page.get_by_text("Paste a message to try.").wait_for()
        assert page.locator("#triage-decision").count() == 0

        page.fill("#id_text", "Still waiting on my refund, this is the 4th email. Not impressed")
        page.select_option("#id_channel", "email")
        page.get_by_role("button", name="Try it").click()
        decision = page.locator("#triage-decision")
        decision.wait_for()
        assert decision.get_attribute("data-label") == "angry"
        assert decision.get_attribute("data-needs-human") == "true"
        assert "sentiment handoff, high priority" in decision.locator("h2").inner_text()
        assert page.locator("#triage-rule mark").inner_text()  # the words that decided
        e2e.screenshot(page, "e2e-triage-try-1-angry")

        page.fill("#id_text", "hey how do i reset my pw")
        page.get_by_role("button", name="Try it").click()
        page.locator("#triage-decision[data-label='faq']").wait_for()
        assert "Forgot password" in page.locator("#triage-reply").inner_text()
        best = page.locator("#triage-faq tbody tr").first
        assert "How do I reset my password?" in best.inner_text()
        e2e.screenshot(page, "e2e-triage-try-2-faq")

        assert (Message.objects.count(), Handoff.objects.count()) == (0, 0)
        assert watch.problems() == []
