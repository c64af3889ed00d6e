"""SLA admin in a real browser: an ops person reads the demo's policies and calendars, adds a
lunch break that overlaps the morning, and is told exactly what is wrong (screenshots)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import PASSWORD, Org
from governance.demo import seed_governance
from governance.models import BusinessCalendar
from handoffs.tests import e2e_support as e2e

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]


@pytest.mark.django_db(transaction=True)
def test_ops_read_the_policies_and_are_told_when_periods_overlap(
    server: e2e.LiveServer, browser: Any, org: Org
) -> None:
    from django.contrib.auth.models import Group
    from playwright.sync_api import expect

    seed_governance()
    olive = org.users["olive"]
    olive.groups.add(Group.objects.get(name="Ops"))
    e2e.set_server_password([olive], PASSWORD)
    office = BusinessCalendar.objects.get(name="UK business hours")

    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        with server.log_on_failure():
            page.goto(f"{server.url}/admin/login/?next=/admin/governance/slapolicy/")
            page.fill("#id_username", "olive")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{server.url}/admin/governance/slapolicy/")
            expect(page.locator("#result_list tbody tr")).to_have_count(12)
            expect(page.locator("#result_list")).to_contain_text("8 h 30 min")  # a day, Sales
            e2e.screenshot(page, "e2e-sla-admin-policies")

            page.goto(f"{server.url}/admin/governance/businesscalendar/")
            expect(page.locator("#result_list")).to_contain_text("GB/ENG")
            e2e.screenshot(page, "e2e-sla-admin-calendars")

            page.goto(f"{server.url}/admin/governance/businesscalendar/{office.pk}/change/")
            # The five weekday periods, then one empty form for a new one.
            page.select_option("select[name=periods-5-weekday]", "0")
            page.fill("input[name=periods-5-starts]", "12:00")
            page.fill("input[name=periods-5-ends]", "14:00")
            page.click("input[name=_save]")
            errors = page.locator("#periods-group .errorlist")
            expect(errors).to_contain_text("Monday 09:00–17:30 overlaps Monday 12:00–14:00")
            e2e.screenshot(page, "e2e-sla-admin-overlap")
        assert office.periods.count() == 5  # nothing saved
    finally:
        context.close()
