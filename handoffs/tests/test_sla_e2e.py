"""The SLA clock in the inbox, in a real browser: each row shows the due time that runs out
first (first reply, next reply), "Paused" while waiting on the contact, "after hours" when the
clock starts at the next opening, and a breach — flagged by the sweep — arrives live.

Real Chromium (Playwright) against uvicorn on the pytest PostgreSQL database with Redis (see
handoffs/tests/e2e_support.py); run last with the other browser tests."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from conftest import PASSWORD, Org
from governance.models import BusinessCalendar, OpeningPeriod, SlaPolicy, TeamHours
from handoffs.models import Handoff
from handoffs.services import (
    InboundMessage,
    RaiseRequest,
    handoff_claim,
    handoff_raise,
    handoff_reply,
    message_receive,
)
from handoffs.services.breaches import handoffs_sla_sweep
from handoffs.tests import e2e_support as e2e
from journeys.models import Contact

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

WAIT_MS = 15_000


def raise_one(org: Org, external_id: str, name: str) -> Handoff:
    who = Contact.objects.create(external_id=external_id, name=name, email=f"{external_id}@ex.com")
    handoff, _ = handoff_raise(
        request=RaiseRequest(
            contact=who,
            team=org.teams["success"],
            trigger="complexity",
            priority="normal",
            reason=f"{name} asked something the FAQ cannot answer",
            evidence={"type": "question"},
        )
    )
    return handoff


def contact_writes(external_id: str, body: str, n: int) -> None:
    message_receive(
        message=InboundMessage(
            contact={"external_id": external_id},
            account=None,
            channel="email",
            body=body,
            external_id=f"{external_id}-{n}",
        )
    )


@pytest.mark.django_db(transaction=True)
def test_the_inbox_shows_the_running_clock_and_a_breach_arrives_live(
    server: e2e.LiveServer, browser: Any, org: Org, api_key: str
) -> None:
    from playwright.sync_api import expect

    casey = org.users["casey"]
    e2e.set_server_password([org.users["morgan"]], PASSWORD)
    SlaPolicy.objects.create(
        team=org.teams["success"],
        priority="normal",
        first_response_minutes=60,
        next_response_minutes=30,
        resolution_minutes=480,
    )
    fresh = raise_one(org, "c-fresh", "Fiona Fresh")
    waiting = raise_one(org, "c-wait", "Walter Waiting")
    handoff_claim(handoff_id=waiting.pk, user=casey)
    handoff_reply(handoff_id=waiting.pk, user=casey, body="Let me check with engineering.")
    answered = raise_one(org, "c-back", "Bea Back")
    handoff_reply(handoff_id=answered.pk, user=casey, body="Could you send a screenshot?")
    contact_writes("c-back", "Here it is — the export button is greyed out.", 1)
    late = raise_one(org, "c-late", "Larry Late")
    past = timezone.now() - timedelta(minutes=20)
    Handoff.objects.filter(pk=late.pk).update(first_response_due_at=past, sla_due_at=past)
    assert handoffs_sla_sweep().breached == 1
    # The team closes now and opens in three hours: the next one waits for the opening.
    opening = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    closes = opening + timedelta(hours=8)
    calendar = BusinessCalendar.objects.create(name="Success hours", time_zone="UTC")
    OpeningPeriod.objects.bulk_create(
        OpeningPeriod(
            calendar=calendar,
            weekday=d,
            starts=opening.time(),
            ends=closes.time(),
            overnight=closes.time() <= opening.time(),
        )
        for d in range(7)
    )
    TeamHours.objects.create(team=org.teams["success"], calendar=calendar)
    raise_one(org, "c-night", "Nina Night")

    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watch = e2e.ConsoleWatch("morgan")
    watch.attach(page, server.url)
    try:
        with server.log_on_failure(watch):
            page.goto(f"{server.url}/accounts/login/?next=/inbox/")
            page.fill("#id_username", "morgan")
            page.fill("#id_password", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(f"{server.url}/inbox/")
            page.wait_for_selector("#live-status.on")

            def row(name: str) -> Any:
                return page.locator("#inbox-rows .row", has_text=name)

            countdown = re.compile(r"^in \d+ (h \d+ )?min$")
            expect(row("Fiona Fresh").locator(".cell-due")).to_contain_text("First reply")
            expect(row("Fiona Fresh").locator("time.due")).to_have_text(countdown)
            expect(row("Walter Waiting").locator(".cell-due")).to_have_text("Paused")
            expect(row("Bea Back").locator(".cell-due")).to_contain_text("Next reply")
            expect(row("Bea Back").locator("time.due")).to_have_text(countdown)
            expect(row("Larry Late").locator("[data-sla=breached]")).to_have_text("SLA breached")
            expect(row("Larry Late").locator("[data-sla=escalated]")).to_have_text("Escalated")
            expect(row("Larry Late").locator("time.due")).to_have_text(re.compile(r"late$"))
            expect(row("Nina Night").locator(".cell-due")).to_contain_text("after hours")
            expect(row("Nina Night").locator("time.due")).to_have_text(
                re.compile(r"^in (3 h 59|4 h 0) min$")  # the hour's target from the opening
            )
            expect(row("Fiona Fresh").locator("[data-sla]")).to_have_count(0)
            e2e.screenshot(page, "e2e-sla-inbox")

            # Fiona's reply falls due; the sweep (here, in the test process) flags it and writes
            # the event log. The next push to the team (Walter answering, through the API)
            # brings every logged change to the open page, Fiona's breach included.
            Handoff.objects.filter(pk=fresh.pk).update(first_response_due_at=past, sla_due_at=past)
            assert handoffs_sla_sweep().breached == 1
            status, answer = e2e.post_json(
                f"{server.url}/api/v1/messages/inbound/",
                {
                    "contact": {"external_id": "c-wait"},
                    "channel": "email",
                    "body": "Thanks, any news?",
                    "external_id": "c-wait-live-1",
                },
                api_key=api_key,
            )
            assert status == 202, answer
            expect(row("Fiona Fresh").locator("[data-sla=breached]")).to_have_text("SLA breached")
            expect(row("Walter Waiting").locator(".cell-due")).to_contain_text("Next reply")
            e2e.screenshot(page, "e2e-sla-inbox-live")
        assert watch.problems() == [], watch.report()
    finally:
        context.close()
