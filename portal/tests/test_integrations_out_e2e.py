"""Integrations out in admin, in a real browser: ops add a webhook subscriber (the secret shown
once), a Slack channel for their team (the URL masked afterwards), and redeliver a dead letter,
which reaches the (local) receiver with its original delivery id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from conftest import PASSWORD, Org
from handoffs.tests import e2e_support as e2e
from portal.integrations import signing
from portal.integrations.outbound_models import (
    DeliveryKind,
    DeliveryStatus,
    NotificationChannel,
    OutboundDelivery,
    WebhookSubscription,
)
from portal.integrations.outbound_services import webhook_subscription_create
from portal.tests import test_integrations_out_fakes as fakes
from portal.tests.test_integrations_out_fakes import FakeServer

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
    pytest.mark.django_db(transaction=True),
]
fake_server = fakes.fake_server
SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/abcdefghijklmnop"


def test_ops_set_up_receivers_and_redeliver_a_dead_letter(
    server: e2e.LiveServer, browser: Any, org: Org, fake_server: FakeServer
) -> None:
    from playwright.sync_api import expect

    olive = org.users["olive"]
    type(olive).objects.filter(pk=olive.pk).update(is_superuser=True)
    e2e.set_server_password([olive], PASSWORD)
    crm = WebhookSubscription(name="Old CRM", url=fake_server.url + "/crm", event_types=["*"])
    webhook_subscription_create(subscription=crm, actor=None)
    dead = OutboundDelivery.objects.create(
        kind=DeliveryKind.WEBHOOK,
        subscription=crm,
        event_type="handoff.created",
        event_key="seq-41",
        payload={"id": "seq-41", "type": "handoff.created", "data": {"id": 7}},
        status=DeliveryStatus.DEAD,
        attempts=8,
        last_status_code=503,
        last_error="HTTP 503: down for maintenance",
        next_attempt_at=timezone.now() - timedelta(hours=1),
    )

    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    watch = e2e.ConsoleWatch("olive")
    watch.attach(page, server.url)
    try:
        with server.log_on_failure(watch):
            page.goto(f"{server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", "olive")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{server.url}/admin/")

            # A subscriber: the secret is shown once, then masked.
            page.goto(f"{server.url}/admin/portal/webhooksubscription/add/")
            page.fill("#id_name", "Data warehouse")
            page.fill("#id_url", "https://dw.example.com/baton")
            page.fill("#id_event_types", "handoff.*\nenrollment.stage_changed")
            e2e.screenshot(page, "e2e-out-subscriber-form")
            page.click("input[name=_save]")
            expect(page.locator(".messagelist")).to_contain_text("Copy the signing secret now")
            secret = WebhookSubscription.objects.get(name="Data warehouse").secret
            expect(page.locator(".messagelist")).to_contain_text(secret)
            e2e.screenshot(page, "e2e-out-subscribers")
            page.click("text=Data warehouse")
            expect(page.locator(".field-secrets")).to_contain_text(secret[-4:])
            expect(page.locator(".field-secrets")).not_to_contain_text(secret)

            # A Slack channel for Sales: posted about urgent high-value handoffs only.
            page.goto(f"{server.url}/admin/portal/notificationchannel/add/")
            page.select_option("#id_team", label="Sales")
            page.fill("#id_name", "#sales-handoffs")
            page.select_option("#id_kind", "slack")
            page.fill("#id_webhook_url", SLACK_URL)
            page.check("input[name=triggers][value=high_value]")
            page.select_option("#id_min_priority", "urgent")
            e2e.screenshot(page, "e2e-out-channel-form")
            page.click("input[name=_save]")
            expect(page.locator("#result_list")).to_contain_text("https://hooks.slack.com/…mnop")
            expect(page.locator("#result_list")).to_contain_text("new + escalations")
            expect(page.locator("#result_list")).not_to_contain_text("abcdefghijklmnop")
            e2e.screenshot(page, "e2e-out-channels")
            assert NotificationChannel.objects.get().webhook_url == SLACK_URL

            # The dead letter: redeliver it now the receiver is back.
            page.goto(f"{server.url}/admin/portal/deadletter/")
            expect(page.locator("#result_list")).to_contain_text("HTTP 503: down for maintenance")
            e2e.screenshot(page, "e2e-out-dead-letters")
            page.check(f"input[name=_selected_action][value='{dead.pk}']")
            page.select_option("select[name=action]", "redeliver")
            page.click("button[name=index]")
            expect(page.locator(".messagelist")).to_contain_text("Redelivering 1")
            e2e.screenshot(page, "e2e-out-redelivered")
            assert watch.problems() == []
    finally:
        context.close()

    dead.refresh_from_db()
    assert (dead.status, dead.redeliveries) == (DeliveryStatus.DELIVERED, 1)
    [request] = fake_server.requests
    assert request.header(signing.DELIVERY_HEADER) == str(dead.delivery_id)
    signing.verify(
        secrets=[crm.secret],
        timestamp=request.header(signing.TIMESTAMP_HEADER),
        signature=request.header(signing.SIGNATURE_HEADER),
        body=request.body,
    )
