"""The complexity loop in a real browser: a contact asks a question the FAQ cannot answer (over
the live server's API) → the bot's holding reply goes out and a complexity handoff appears → a
rep opens it and replies in the same conversation → one click on "Save as FAQ candidate" → ops
find the pair in admin as a candidate.

Real Chromium (Playwright) against uvicorn serving portal.asgi with production settings (see
handoffs/tests/test_e2e_browser.py and e2e_support.py). Runs last (the `e2e` marker)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conftest import PASSWORD, Org
from handoffs.models import FaqEntry, Handoff, Message
from handoffs.tests import e2e_support as e2e
from handoffs.tests.test_e2e_browser import LIVE_MS, Rep
from handoffs.triage import defaults

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

QUESTION = "Can our Dublin office share one invoice with the London team?"
ANSWER = "Yes — we can put both offices on one invoice; I have set that up for next month."


@pytest.fixture
def people(org: Org, browser: Any, server: e2e.LiveServer) -> Iterator[dict[str, Rep]]:
    olive = org.users["olive"]
    olive.is_superuser = True
    olive.save()
    e2e.set_server_password([org.users["riley"], olive], PASSWORD)
    people = {name: Rep(browser, server, name) for name in ("riley", "olive")}
    try:
        yield people
    finally:
        for person in people.values():
            person.close()


@pytest.mark.django_db(transaction=True)
def test_a_question_the_faq_cannot_answer_becomes_a_faq_candidate(
    server: e2e.LiveServer, people: dict[str, Rep], org: Org, api_key: str
) -> None:
    riley, olive = people["riley"], people["olive"]
    with server.log_on_failure(riley.watch, olive.watch):
        riley.log_in()
        riley.wait_live()
        body = {
            "contact": {"external_id": "c-3003", "name": "Mary Jackson", "email": "m@x.io"},
            "channel": "email",
            "body": QUESTION,
            "external_id": "mail-1",
        }
        status, answer = e2e.post_json(
            f"{server.url}/api/v1/messages/inbound/", body, api_key=api_key
        )
        assert status == 202, answer

        # The bot's holding reply went out at once, and a specialist handoff is in the inbox.
        holding = Message.objects.get(direction="out")
        assert holding.body == f"{defaults.HOLDING_REPLY}\n\n{defaults.ASSISTANT_SIGNATURE}"
        handoff = Handoff.objects.get(contact__external_id="c-3003")
        assert handoff.trigger == "complexity"
        riley.row("Mary Jackson").wait_for(timeout=LIVE_MS)
        e2e.screenshot(riley.page, "e2e-faq-1-inbox")

        # Riley opens it: the question (badged), the holding reply, and why it was raised.
        riley.row("Mary Jackson").get_by_role("link", name="Open").click()
        riley.page.wait_for_url(f"{server.url}/handoffs/{handoff.pk}/")
        riley.wait_live()
        page = riley.page
        page.locator(
            "#handoff-panel .reason-big", has_text="Question the FAQ cannot answer"
        ).wait_for()
        page.locator("#conversation [data-triage='question']").wait_for()
        assert "Great question" in page.locator("#conversation .msg-bot").inner_text()

        page.fill("#reply-body", ANSWER)
        page.get_by_role("button", name="Send reply").click()
        page.locator("#conversation .msg-out", has_text="— Riley Reed, Sales team").wait_for()

        page.get_by_role("button", name="Save as FAQ candidate").click()
        page.get_by_text("Saved as a FAQ candidate").wait_for()
        e2e.screenshot(page, "e2e-faq-2-handoff-saved")
        entry = FaqEntry.objects.get()
        assert (entry.question, entry.answer, entry.status) == (QUESTION, ANSWER, "candidate")

        # Ops find it in admin, waiting for review.
        olive.log_in()
        olive.page.goto(f"{server.url}/admin/handoffs/faqentry/?status__exact=candidate")
        olive.page.get_by_role("link", name=QUESTION).wait_for()
        e2e.screenshot(olive.page, "e2e-faq-3-admin-candidates")

        problems = [p for w in (riley.watch, olive.watch) for p in w.problems()]
        assert problems == []
