"""Inbound webhooks in admin: the secret is shown once on creation and masked after, rotation
and retirement as actions, the mapping validated on save, and a preview of the signal a sample
payload makes. The browser test looks at the page as ops would."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.messages import get_messages

from conftest import PASSWORD, Org
from handoffs.tests import e2e_support as e2e
from portal.integrations.models import InboundWebhook, WebhookDelivery

ADD = "/admin/portal/inboundwebhook/add/"
LIST = "/admin/portal/inboundwebhook/"


def form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "HubSpot deals",
        "slug": "hubspot-deals",
        "is_active": "on",
        "type_value": "",
        "type_path": "event.name",
        "external_id_path": "contact.id",
        "email_path": "contact.email?",
        "phone_path": "",
        "name_path": "",
        "account_external_id_path": "",
        "account_name_path": "",
        "occurred_at_path": "",
        "properties_path": "",
        "property_paths": json.dumps({"budget": "deal.amount"}),
        "sample_payload": json.dumps(
            {"event": {"name": "Deal Won"}, "contact": {"id": "c-1"}, "deal": {"amount": 5}}
        ),
    }
    data.update(overrides)
    return data


@pytest.fixture
def ops_admin(org: Org, client: Any) -> Any:
    olive = org.users["olive"]
    olive.is_superuser = True
    olive.save()
    client.force_login(olive)
    return client


def test_creating_a_webhook_shows_its_secret_once_then_masks_it(ops_admin: Any) -> None:
    response = ops_admin.post(ADD, form(), follow=True)

    assert response.status_code == 200
    hook = InboundWebhook.objects.get()
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(hook.secret in m for m in shown), shown
    assert hook.secret.startswith("whsec_") and len(hook.secret) > 40

    page = ops_admin.get(f"/admin/portal/inboundwebhook/{hook.pk}/change/").content.decode()
    assert hook.secret not in page
    assert f"whsec_…{hook.secret[-4:]}" in page
    assert "/api/v1/hooks/hubspot-deals/" in page


def test_the_change_page_previews_the_sample_payloads_signal(ops_admin: Any) -> None:
    ops_admin.post(ADD, form())
    hook = InboundWebhook.objects.get()
    page = ops_admin.get(f"/admin/portal/inboundwebhook/{hook.pk}/change/").content.decode()

    assert "This payload makes the signal" in page
    assert "deal_won" in page
    assert "&quot;budget&quot;: 5" in page

    hook.sample_payload = {"event": {"name": "Deal Won"}}
    hook.save()
    page = ops_admin.get(f"/admin/portal/inboundwebhook/{hook.pk}/change/").content.decode()
    assert "would be refused" in page
    assert "&#x27;deal.amount&#x27; is missing" in page


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"type_path": "", "type_value": ""}, "type_value", "a signal type or a path"),
        ({"type_value": "deal_won"}, "type_value", "(one)"),
        ({"type_path": "$.event.name"}, "type_path", "no $ or JSONPath"),
        ({"external_id_path": "", "email_path": ""}, "external_id_path", "Map the contact"),
        ({"property_paths": "[1, 2]"}, "property_paths", "names to paths"),
        ({"property_paths": '{"b": "deal..amount"}'}, "property_paths", "empty segment"),
        ({"type_path": "", "type_value": "Deal Won"}, "type_value", "Letters, digits"),
    ],
)
def test_a_mapping_that_cannot_work_is_refused_on_save(
    ops_admin: Any, overrides: dict[str, str], field: str, words: str
) -> None:
    response = ops_admin.post(ADD, form(**overrides))

    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert words in " ".join(errors[field]), errors
    assert InboundWebhook.objects.count() == 0


def test_rotate_and_retire_are_actions(ops_admin: Any) -> None:
    ops_admin.post(ADD, form(), follow=True)  # reads (and so clears) the creation message
    hook = InboundWebhook.objects.get()
    first = hook.secret

    response = ops_admin.post(
        LIST, {"action": "rotate_secret", "_selected_action": [hook.pk]}, follow=True
    )
    hook.refresh_from_db()
    assert hook.previous_secret == first and hook.secret != first
    shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert hook.secret in shown and first not in shown
    listing = ops_admin.get(LIST).content.decode()
    assert "(previous, retire it)" in listing

    ops_admin.post(LIST, {"action": "retire_previous_secret", "_selected_action": [hook.pk]})
    hook.refresh_from_db()
    assert hook.previous_secret == ""


def test_deliveries_are_read_only(ops_admin: Any) -> None:
    ops_admin.post(ADD, form())
    delivery = WebhookDelivery.objects.create(
        webhook=InboundWebhook.objects.get(), delivery_key="id:evt-1", signal_id=None
    )
    assert ops_admin.get("/admin/portal/webhookdelivery/").status_code == 200
    assert ops_admin.get("/admin/portal/webhookdelivery/add/").status_code == 403
    page = ops_admin.get(f"/admin/portal/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content


def test_a_rep_cannot_open_the_webhook_admin(org: Org, client: Any) -> None:
    client.force_login(org.users["riley"])
    response = client.get(LIST)
    assert response.status_code == 302  # to the admin login: not staff


# ---- in a real browser ----------------------------------------------------------------------

SKIP_REASON = e2e.why_no_browser_run()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")
def test_ops_configure_a_webhook_and_read_the_preview(server: e2e.LiveServer, browser: Any) -> None:
    from playwright.sync_api import expect

    from conftest import build_org

    org = build_org()
    olive = org.users["olive"]
    olive.is_superuser = True
    olive.save()
    e2e.set_server_password([olive], PASSWORD)
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = e2e.ConsoleWatch("olive")
    watch.attach(page, server.url)
    with server.log_on_failure(watch):
        page.goto(f"{server.url}/accounts/login/?next={ADD}")
        page.fill("#id_username", "olive")
        page.fill("#id_password", PASSWORD)
        page.click("form [type=submit]")
        page.wait_for_url(f"{server.url}{ADD}")
        page.fill("#id_name", "HubSpot deals")
        page.fill("#id_type_path", "event.name")
        page.fill("#id_external_id_path", "contact.id")
        page.fill("#id_email_path", "contact.email?")
        page.fill("#id_property_paths", '{"budget": "deal.amount", "stage": "deal.stage?"}')
        page.fill(
            "#id_sample_payload",
            json.dumps(
                {
                    "event": {"name": "Deal Won"},
                    "contact": {"id": "c-1001", "email": "ada@example.com"},
                    "deal": {"amount": 50000},
                },
                indent=2,
            ),
        )
        page.click("input[name=_continue]")
        page.wait_for_url(re.compile(r"/admin/portal/inboundwebhook/\d+/change/"))
        secret = InboundWebhook.objects.get().secret
        expect(page.locator(".messagelist")).to_contain_text(secret)
        preview = page.locator(".field-mapping_preview")
        expect(preview).to_contain_text("This payload makes the signal")
        expect(preview).to_contain_text('"type": "deal_won"')
        expect(preview).to_contain_text("Optional paths not in this payload: deal.stage")
        expect(page.locator(".field-secrets")).to_contain_text(f"whsec_…{secret[-4:]}")
        e2e.screenshot(page, "integrations-webhook-admin")
    assert watch.problems() == []
