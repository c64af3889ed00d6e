"""Versions in a real browser: an ops person saves a rule change as a draft in admin (the live
rule stays as it was), publishes it on the draft page, and rolls it back from the audit
(screenshots of each page)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import PASSWORD, Org
from governance.versions.models import RuleDraft, RuleRevision
from handoffs.tests import e2e_support as e2e
from journeys.models import HandoffRule

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]


@pytest.mark.django_db(transaction=True)
def test_ops_drafts_publishes_and_rolls_back_a_rule_change(
    server: e2e.LiveServer, browser: Any, org: Org
) -> None:
    from django.contrib.auth.models import Permission
    from playwright.sync_api import expect

    olive = org.users["olive"]
    olive.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="journeys",
            codename__in=["change_handoffrule", "view_handoffrule", "delete_handoffrule"],
        )
    )
    e2e.set_server_password([olive], PASSWORD)
    rule = org.rule

    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = e2e.ConsoleWatch("olive")
    watch.attach(page, server.url)
    try:
        with server.log_on_failure(watch):
            change = f"/admin/journeys/handoffrule/{rule.pk}/change/"
            page.goto(f"{server.url}/admin/login/?next={change}")
            page.fill("#id_username", "olive")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{server.url}{change}")
            page.select_option("#id_priority", "low")
            page.fill("#id__version_comment", "Urgent paged the director at night")
            page.fill("#id__draft_title", "Calmer high-value rule")
            page.locator(".submit-row").last.scroll_into_view_if_needed()
            e2e.screenshot(page, "versions-1-admin-save-as-draft")
            page.click("input[name=_save_draft]")

            page.wait_for_url(f"{server.url}/governance/drafts/*/")
            expect(page.locator("h1")).to_contain_text("Calmer high-value rule")
            expect(page.locator(".diff")).to_contain_text("Urgent")
            expect(page.locator(".diff")).to_contain_text("Low")
            e2e.screenshot(page, "versions-2-draft")
            assert HandoffRule.objects.get().priority == "urgent"  # a draft is not live

            page.get_by_role("button", name="Publish 1 change").click()
            page.wait_for_url(f"{server.url}/governance/audit/*")
            entry = RuleRevision.objects.get()
            card = page.locator(f"#entry-{entry.pk}")
            expect(card).to_contain_text("Published a draft")
            expect(card).to_contain_text("Olive Ortiz")
            e2e.screenshot(page, "versions-3-audit-published")
            assert HandoffRule.objects.get().priority == "low"

            card.get_by_role("link", name="Roll back…").click()
            page.wait_for_url(f"{server.url}/governance/audit/{entry.pk}/rollback/")
            page.fill("#id_comment", "Directors want the call after all")
            e2e.screenshot(page, "versions-4-rollback-confirm")
            page.get_by_role("button", name="Roll back").click()
            page.wait_for_url(f"{server.url}/governance/audit/*")
            undo = RuleRevision.objects.get(rollback_of=entry)
            expect(page.locator(f"#entry-{undo.pk}")).to_contain_text("Rolled back")
            expect(page.locator(f"#entry-{entry.pk}")).to_contain_text("Rolled back by Olive Ortiz")
            e2e.screenshot(page, "versions-5-audit-rolled-back")
        assert not watch.problems(), watch.report()
    finally:
        context.close()

    rule.refresh_from_db()
    assert (rule.priority, rule.version) == ("urgent", 3)
    assert RuleDraft.objects.get().status == "published"


@pytest.mark.django_db(transaction=True)
def test_a_calendar_draft_reads_as_hours_and_a_leader_reads_the_audit_only(
    server: e2e.LiveServer, browser: Any, org: Org
) -> None:
    from datetime import time

    from playwright.sync_api import expect

    from governance.models import BusinessCalendar, OpeningPeriod
    from governance.versions.services import draft_change_save, draft_publish

    office = BusinessCalendar.objects.create(
        name="Sales office", team=org.teams["sales"], holiday_country="GB"
    )
    for day in range(5):
        OpeningPeriod.objects.create(calendar=office, weekday=day, starts=time(9), ends=time(17))
    longer = [
        {"weekday": d, "starts": "08:30:00", "ends": "18:00:00", "overnight": False}
        for d in range(5)
    ]
    olive, lee = org.users["olive"], org.users["lee"]
    change = draft_change_save(
        user=olive,
        model=BusinessCalendar,
        pk=office.pk,
        values={"time_zone": "Europe/Dublin"},
        related={"periods": longer},
        title="Longer Sales hours",
        note="Cover the US morning",
    )
    e2e.set_server_password([olive, lee], PASSWORD)

    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        with server.log_on_failure():
            e2e_login(page, server, "olive", f"/governance/drafts/{change.draft_id}/")
            expect(page.locator(".diff")).to_contain_text("Mon–Fri 08:30–18:00")
            expect(page.locator(".diff")).to_contain_text("Europe/Dublin")
            e2e.screenshot(page, "versions-6-calendar-draft")
            draft_publish(draft_id=change.draft_id, user=olive)

            page.context.clear_cookies()
            e2e_login(page, server, "lee", "/governance/audit/")
            expect(page.locator(".audit-entry")).to_have_count(1)
            expect(page.locator(".audit-entry")).to_contain_text("Cover the US morning")
            expect(page.get_by_role("link", name="Roll back…")).to_have_count(0)
            e2e.screenshot(page, "versions-7-leader-audit")
    finally:
        context.close()


def e2e_login(page: Any, server: e2e.LiveServer, username: str, next_url: str) -> None:
    page.goto(f"{server.url}/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{server.url}{next_url}")
