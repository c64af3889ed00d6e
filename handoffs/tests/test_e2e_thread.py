"""A long conversation in a real browser: the handoff page shows the newest messages, and "Load
older messages" brings the page before them above, as often as there are older ones.

Real Chromium (Playwright) against uvicorn on the pytest PostgreSQL database (see
handoffs/tests/e2e_support.py); run last with the other browser tests."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import PASSWORD, Org
from handoffs.choices import Channel, Direction
from handoffs.models import Conversation, Handoff, Message
from handoffs.selectors import THREAD_PAGE
from handoffs.tests import e2e_support as e2e

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]


@pytest.mark.django_db(transaction=True)
def test_load_older_messages_brings_earlier_pages_above_the_newest(
    server: e2e.LiveServer, browser: Any, org: Org, send_signal: Any
) -> None:
    from playwright.sync_api import expect

    assert send_signal(budget=50000, key="e2e-thread").status_code == 202
    handoff = Handoff.objects.select_related("contact").get(contact__external_id="c-1001")
    conversation = Conversation.objects.get_or_create(contact=handoff.contact)[0]
    total = THREAD_PAGE * 2 + 3
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            handoff=handoff,
            direction=Direction.IN,
            channel=Channel.EMAIL,
            body=f"Question number {i}",
        )
        for i in range(total)
    )
    e2e.set_server_password([org.users["riley"]], PASSWORD)
    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    watch = e2e.ConsoleWatch("riley")
    watch.attach(page, server.url)
    with server.log_on_failure(watch):
        page.goto(f"{server.url}/accounts/login/?next=/handoffs/{handoff.pk}/")
        page.fill("#id_username", "riley")
        page.fill("#id_password", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(f"{server.url}/handoffs/{handoff.pk}/")
        messages = page.locator("#conversation article.msg")
        expect(messages).to_have_count(THREAD_PAGE)
        expect(messages.last).to_contain_text(f"Question number {total - 1}")

        page.click("[data-load-older]")
        expect(messages).to_have_count(THREAD_PAGE * 2)
        expect(messages.first).to_contain_text("Question number 3")
        page.click("[data-load-older]")
        expect(messages).to_have_count(total)
        expect(messages.first).to_contain_text("Question number 0")
        expect(page.locator("[data-load-older]")).to_have_count(0)
        # Oldest first, top to bottom, with nothing repeated.
        bodies = messages.locator("p.body").all_inner_texts()
        assert bodies == [f"Question number {i}" for i in range(total)]
        page.locator("#conversation").scroll_into_view_if_needed()
        e2e.screenshot(page, "thread-load-older")
    assert not watch.problems(), watch.report()
