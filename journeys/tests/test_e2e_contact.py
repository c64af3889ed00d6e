"""The rep's context view in a real browser: Riley opens a £50,000 lead, reads the summary and the
timeline, filters it by kind and pages through it, reads what the playbook recommends and why,
takes a reply draft to the handoff, edits it and sends it — and the reply appears in the
conversation, signed. Nothing went out before Riley pressed Send.

Real Chromium (Playwright) against uvicorn on the pytest PostgreSQL database with Redis (see
handoffs/tests/e2e_support.py); run last with the other browser tests."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import PASSWORD, Org, signal_body
from handoffs.models import FaqEntry, Handoff, Message, OutboxEntry
from handoffs.tests import e2e_support as e2e
from handoffs.triage.choices import FaqStatus
from journeys.models import Contact
from journeys.playbook.demo import seed_playbook
from journeys.playbook.models import ReplyTemplate
from journeys.selectors import timeline_count
from journeys.tests.test_views import add_history

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

WAIT_MS = 15_000


def shot(target: Any, name: str) -> None:
    """A screenshot of the viewport or one element. caret="initial": hiding the caret leaves
    style="" on form fields, which htmx copies in its next swap (a CSP report about nothing)."""
    e2e.ARTIFACTS.mkdir(exist_ok=True)
    target.screenshot(path=str(e2e.ARTIFACTS / f"{name}.png"), caret="initial")


@pytest.mark.django_db(transaction=True)
def test_a_rep_reads_the_context_view_and_sends_an_edited_draft(
    server: e2e.LiveServer, browser: Any, org: Org, api_key: str
) -> None:
    from playwright.sync_api import expect

    seed_playbook()
    FaqEntry.objects.create(
        question="How do I reset my password?",
        answer="Use “Forgot password?” on the sign-in page and we'll email you a link.",
        keywords="password reset forgot login",
        status=FaqStatus.APPROVED,
    )
    properties = {"budget": 50000, "currency": "GBP", "persona": "Economic buyer"}
    status, answer = e2e.post_json(
        f"{server.url}/api/v1/signals/",
        signal_body(key="e2e-form", properties=properties),
        api_key=api_key,
    )
    assert status == 202, answer
    ada = Contact.objects.get(external_id="c-1001")
    add_history(ada, 75)  # older signals, messages and handoff events: more than one page
    status, answer = e2e.post_json(
        f"{server.url}/api/v1/messages/inbound/",
        {
            "contact": {"external_id": "c-1001"},
            "channel": "email",
            "body": "Quick one: how do I reset my password? I'm locked out.",
            "external_id": "e2e-question",
        },
        api_key=api_key,
    )
    assert status in (200, 201, 202), answer
    handoff = Handoff.objects.get(contact=ada)
    discovery = ReplyTemplate.objects.get(name="Book discovery")
    sent_before = OutboxEntry.objects.count()
    total = timeline_count(contact=ada, principal=org.users["riley"])
    assert 50 < total <= 100

    e2e.set_server_password([org.users["riley"]], PASSWORD)
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watch = e2e.ConsoleWatch("riley")
    watch.attach(page, server.url)
    try:
        with server.log_on_failure(watch):
            page.goto(f"{server.url}/accounts/login/?next=/contacts/{ada.pk}/")
            page.fill("#id_username", "riley")
            page.fill("#id_password", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(f"{server.url}/contacts/{ada.pk}/")

            # The summary and the timeline, a page at a time.
            summary = page.locator("section.summary")
            expect(summary).to_contain_text("Latest signal: form_submitted")
            expect(summary).to_contain_text("how do I reset my password?")
            expect(summary).to_contain_text("High value handoff raised")
            timeline = page.locator("ol.timeline > li.tl")
            expect(timeline).to_have_count(50)
            expect(page.locator("ol.timeline")).not_to_contain_text("Old message 24")
            page.get_by_role("button", name="Older events").click()
            expect(timeline).to_have_count(total)
            expect(page.locator("ol.timeline")).to_contain_text("Old message 24")  # the oldest
            expect(page.get_by_role("button", name="Older events")).to_have_count(0)

            # What the playbook recommends, and why.
            playbook = page.locator("#playbook")
            expect(playbook.locator(".pb-basis")).to_have_text(
                "For: Acquire stage · High value handoff · Economic buyer"
            )
            first_step = playbook.locator(".pb-step").first
            expect(first_step).to_contain_text("Call within 15 minutes, then book discovery")
            expect(first_step.locator(".because")).to_have_text(
                "because: Acquire stage · High value handoff"
            )
            expect(playbook.locator(".pb-content")).to_contain_text("Discovery call guide")
            expect(playbook.locator(".pb-content")).to_contain_text("ROI calculator")
            drafts = playbook.locator(".pb-draft")
            expect(drafts.first).to_contain_text("FAQ: How do I reset my password?")
            expect(drafts.nth(1)).to_contain_text("Book discovery")
            e2e.screenshot(page, "e2e-contact-page")
            shot(playbook, "e2e-contact-playbook")

            # Filter the timeline to messages only.
            page.locator("label.chip-check", has_text="message").locator("input").check()
            page.wait_for_url(re.compile(r".*\?kind=message$"))
            kinds = page.locator("ol.timeline > li.tl .tl-kind").all_inner_texts()
            assert kinds and {k.lower() for k in kinds} == {"message"}
            expect(page.locator("ol.timeline")).to_contain_text("how do I reset my password?")
            e2e.screenshot(page, "e2e-contact-filtered")

            # Take the "Book discovery" draft to the handoff: it lands in the reply box.
            page.locator(f'.pb-draft[data-draft-key="t{discovery.pk}"] [data-open-draft]').click()
            page.wait_for_url(re.compile(rf".*/handoffs/{handoff.pk}/\?draft=t{discovery.pk}"))
            box = page.locator("#reply-body")
            expect(box).to_have_value(
                re.compile(r"^Hi Ada, thanks for telling us about your plans")
            )
            expect(box).to_be_focused()
            assert OutboxEntry.objects.count() == sent_before  # a draft is only text

            # Swap to the FAQ draft (confirming the replacement), then edit it and send.
            page.once("dialog", lambda dialog: dialog.accept())
            faq_draft = page.locator("#playbook .pb-draft", has_text="FAQ: How do I reset")
            faq_draft.get_by_role("button", name="Use this draft").click()
            expect(box).to_have_value(re.compile(r"^Hi Ada,\n\nUse “Forgot password\?”"))
            expect(faq_draft).to_have_class(re.compile(r"\bin-use\b"))
            expect(faq_draft.locator(".pb-note")).to_have_text(
                "In your reply box: edit it, then send."
            )
            box.press("End")
            box.type(" I've also unlocked your account just now.")
            shot(page, "e2e-contact-draft-in-composer")
            shot(page.locator("aside.side #playbook"), "e2e-contact-handoff-playbook")
            assert OutboxEntry.objects.count() == sent_before

            page.get_by_role("button", name="Send reply").click()
            mine = page.locator("#conversation .msg-out", has_text="unlocked your account")
            expect(mine).to_contain_text("Use “Forgot password?” on the sign-in page")
            expect(mine).to_contain_text("— Riley Reed, Sales team")
            expect(box).to_have_value("")
            expect(page.locator("#playbook .pb-draft.in-use")).to_have_count(0)
            e2e.screenshot(page, "e2e-contact-draft-sent")
        assert e2e.csp_violations([watch]) == []
        assert watch.problems() == []
    finally:
        context.close()

    sent = Message.objects.get(handoff=handoff, direction="out", author=org.users["riley"])
    assert sent.body.startswith("Hi Ada,\n\nUse “Forgot password?”")
    assert "I've also unlocked your account just now." in sent.body
    assert OutboxEntry.objects.count() == sent_before + 1
