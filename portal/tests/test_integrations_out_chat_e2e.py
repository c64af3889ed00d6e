"""The chat widget in a real browser, embedded as an iframe the way a customer's site embeds it:
the contact asks, the FAQ bot answers; asks what the FAQ cannot answer, gets the holding reply;
a rep answers from Baton and the answer appears in the same thread without a reload."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Org
from handoffs.models import FaqEntry, Handoff
from handoffs.services import handoff_reply
from handoffs.tests import e2e_support as e2e
from handoffs.triage import defaults
from handoffs.triage.choices import FaqStatus
from journeys.models import Contact
from portal.tests import test_integrations_out_fakes as fakes
from portal.tests.test_integrations_out_fakes import FakeServer

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
    pytest.mark.django_db(transaction=True),
]
WAIT_MS = 15_000
fake_server = fakes.fake_server


def test_a_contact_chats_with_the_bot_then_a_person_in_the_same_thread(
    server: e2e.LiveServer, browser: Any, org: Org, api_key: str, fake_server: FakeServer
) -> None:
    site = fake_server
    from playwright.sync_api import expect

    for question, answer, keywords in defaults.STARTER_FAQ:
        FaqEntry.objects.create(
            question=question, answer=answer, keywords=keywords, status=FaqStatus.APPROVED
        )
    # The customer's server opens a session (the server signs with its own SECRET_KEY).
    status, session = e2e.post_json(
        f"{server.url}/api/v1/chat/sessions/",
        {"contact": {"external_id": "c-1001", "name": "Ada Lovelace"}},
        api_key=api_key,
    )
    assert status == 201, session
    ada = Contact.objects.get(external_id="c-1001")
    url = session["url"].replace("http://127.0.0.1:8000", server.url)

    context = browser.new_context(viewport={"width": 900, "height": 700})
    page = context.new_page()
    watch = e2e.ConsoleWatch("ada")
    watch.attach(page, server.url)
    try:
        with server.log_on_failure(watch):
            # A customer's site (another origin) with the snippet Baton hands out.
            site.page = (
                "<!doctype html><title>Acme</title><main style='font-family:sans-serif;"
                "padding:24px'><h1>Acme — Contact us</h1>"
                f"{session['embed'].replace(session['url'], url)}</main>"
            )
            page.goto(site.url + "/contact")
            chat = page.frame_locator("iframe")
            expect(chat.locator(".empty")).to_have_text("Ask us anything.", timeout=WAIT_MS)

            chat.locator("#body").fill("What are your opening hours?")
            chat.locator("#body").press("Enter")
            expect(chat.locator(".msg.me").first).to_contain_text("What are your opening hours?")
            expect(chat.locator(".msg.bot").first).to_contain_text(
                "Monday to Friday", timeout=WAIT_MS
            )
            expect(chat.locator("#body")).to_be_focused()

            chat.locator("#body").fill("Can we run two workspaces on one invoice for Dublin?")
            chat.locator("button[type=submit]").click()
            expect(chat.locator(".msg.bot")).to_have_count(2, timeout=WAIT_MS)
            e2e.screenshot(page, "e2e-out-chat-holding")

            # A rep answers from Baton; the open widget shows it on its next poll.
            handoff = Handoff.objects.get(contact=ada)
            riley = org.users["riley"]
            riley.memberships.update(team=handoff.team)
            handoff_reply(handoff_id=handoff.pk, user=riley, body="Yes, one invoice covers both.")
            expect(chat.locator(".msg.person")).to_contain_text(
                "Yes, one invoice covers both.", timeout=WAIT_MS
            )
            expect(chat.locator(".msg.person .who")).to_have_text("Riley Reed")
            e2e.screenshot(page, "e2e-out-chat-person")
            assert watch.problems() == []
    finally:
        context.close()
