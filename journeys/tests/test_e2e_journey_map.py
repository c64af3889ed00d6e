"""The journey map in a real browser: a leader opens /journeys/, picks the seeded trial
journey, reads its stages as columns with steps marked by mode and contacts at each step, and
changes the period; a rep gets there from the navigation bar.

Real Chromium (Playwright) against uvicorn on the pytest PostgreSQL database (see
handoffs/tests/e2e_support.py); run last with the other browser tests."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from conftest import PASSWORD
from handoffs.tests import e2e_support as e2e
from journeys.choices import LIVE_ENROLLMENT_STATUSES
from journeys.models import Enrollment, Journey

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

WAIT_MS = 15_000


def kickoff_figures(trial: Journey) -> Any:
    from django.http import QueryDict

    from journeys.journey_map import journey_map
    from portal.periods import period_parse

    period, _ = period_parse(QueryDict("period=30d"))
    return journey_map(journey=trial, period=period).columns[0].figures


def log_in(page: Any, server: e2e.LiveServer, username: str) -> None:
    page.goto(f"{server.url}/accounts/login/?next=/journeys/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{server.url}/journeys/")


@pytest.mark.django_db(transaction=True)
def test_a_leader_reads_the_trial_journey_map_and_changes_the_period(
    server: e2e.LiveServer, browser: Any
) -> None:
    from playwright.sync_api import expect

    call_command("seed_demo", stdout=StringIO())
    users = get_user_model().objects.filter(username__in=["lee", "riley"])
    e2e.set_server_password(list(users), PASSWORD)
    trial = Journey.objects.get(slug="trial-onboarding")
    # Ada and Mary, and the governance samples' trials (docs/governance.md): read, not assumed.
    live = Enrollment.objects.filter(journey=trial, status__in=LIVE_ENROLLMENT_STATUSES)
    assert live.count() >= 2
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watch = e2e.ConsoleWatch("lee")
    watch.attach(page, server.url)
    try:
        with server.log_on_failure(watch):
            log_in(page, server, "lee")
            card = page.locator(".journey-card", has_text="Trial onboarding")
            expect(card.locator(".figures dd").first).to_have_text(str(live.count()))
            e2e.screenshot(page, "e2e-journey-list")

            card.click()
            page.wait_for_url(f"{server.url}/journeys/{trial.pk}/?period=30d")
            columns = page.locator(".stage-col")
            expect(columns).to_have_count(2)
            kickoff, adoption = columns.nth(0), columns.nth(1)
            expect(kickoff.locator("h2")).to_have_text("Kick-off")
            expect(kickoff.locator(".loop-badge")).to_have_text("Onboard")
            expect(adoption.locator(".loop-badge")).to_have_text("Adopt")
            # Ada (and the samples) wait for activation; Mary activated and moved on to Adoption.
            waiting = live.filter(step="wait_activation").count()
            expect(kickoff.locator('[data-step="wait_activation"] .here')).to_have_text(
                str(waiting)
            )
            expect(adoption.locator('[data-step="settle"] .here')).to_have_text("1")
            expect(kickoff.locator('[data-step="setup_call"] .mode')).to_have_text("Hybrid")
            expect(kickoff.locator('[data-step="welcome"] .mode')).to_have_text("Automation")
            # Mary's stay in Kick-off ended, and the demo history's trials: measured, with their
            # drop-offs, as journeys/journey_map.py counts them from the database.
            figures = kickoff_figures(trial)
            assert figures.measured >= 1
            stays = f"({figures.measured} stay{'s' if figures.measured != 1 else ''})"
            expect(kickoff.locator(".stage-figures")).to_contain_text(stays)
            expect(kickoff.locator(".stage-figures")).to_contain_text(figures.drop_off_label)
            e2e.screenshot(page, "e2e-journey-map")

            page.click(".period .tabs a:has-text('7 days')")
            page.wait_for_url(f"{server.url}/journeys/{trial.pk}/?period=7d")
            expect(page.locator(".period .tabs a[aria-current]")).to_have_text("7 days")

            page.fill("input[name=from]", "2026-12-02")
            page.fill("input[name=to]", "2026-12-01")
            page.click(".period button")
            expect(page.locator(".period + .notice")).to_contain_text("end on or after")
            expect(columns).to_have_count(2)  # the map still shows, on the default period

            page.click("nav.nav a:has-text('Journeys')")
            page.wait_for_url(f"{server.url}/journeys/")
        assert e2e.csp_violations([watch]) == []
        assert [p for p in watch.problems() if "400" not in p] == []
    finally:
        context.close()
