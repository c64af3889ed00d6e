"""Slack and Microsoft Teams notifications against a real local HTTP server playing their incoming
webhooks: the message text and deep link, per-team channels, trigger and priority filters,
escalations posted once, Slack's permanent refusals dead-lettered, and the same delivery table
and retries as webhooks."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.test import Client

from conftest import Org
from handoffs.choices import Priority, Trigger
from handoffs.models import Handoff
from handoffs.services import handoff_claim
from handoffs.services.common import _announce, _locked
from portal.choices import EventType
from portal.integrations.notifications import amount_of, money
from portal.integrations.outbound_models import (
    DeliveryKind,
    DeliveryStatus,
    NotificationChannel,
    NotificationKind,
    OutboundDelivery,
)
from portal.tests import test_integrations_out_fakes as fakes
from portal.tests.test_integrations_out_fakes import Answer, FakeServer

pytestmark = pytest.mark.django_db(transaction=True)
fake_server = fakes.fake_server
PUBLIC = "https://baton.example.com"


@pytest.fixture(autouse=True)
def public_url(settings: Any) -> None:
    settings.BATON_PUBLIC_URL = PUBLIC


def channel(org: Org, url: str, *, team: str = "sales", **fields: Any) -> NotificationChannel:
    return NotificationChannel.objects.create(
        team=org.teams[team],
        name=fields.pop("name", "#sales-handoffs"),
        kind=fields.pop("kind", NotificationKind.SLACK),
        webhook_url=url,
        **fields,
    )


def escalate(handoff_id: int) -> None:
    """What the SLA sweep does to a handoff past its due time: flag it escalated and announce
    handoff.updated through the same service helper."""
    with transaction.atomic():
        handoff = _locked(handoff_id)
        handoff.escalated = True
        handoff.save(update_fields=["escalated", "updated_at"])
        _announce([handoff], EventType.HANDOFF_UPDATED)


def test_a_high_value_handoff_posts_who_why_how_much_and_a_deep_link_to_slack(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    channel(org, fake_server.url + "/services/T000/B000/XXXX")

    send_signal()

    handoff = Handoff.objects.get()
    [request] = fake_server.requests
    assert request.path == "/services/T000/B000/XXXX"
    body = request.json()
    link = f"{PUBLIC}/handoffs/{handoff.pk}/"
    assert body["text"] == f"Ada Lovelace needs a reply (high value, £50,000). Answer: {link}"
    assert body["unfurl_links"] is False
    # The blocks carry the same link on a button, and the reason.
    [button] = body["blocks"][-1]["elements"]
    assert (button["text"]["text"], button["url"]) == ("Answer", link)
    assert "Urgent priority" in body["blocks"][0]["text"]["text"]
    delivery = OutboundDelivery.objects.get()
    assert (delivery.kind, delivery.status, delivery.event_type) == (
        DeliveryKind.SLACK,
        DeliveryStatus.DELIVERED,
        "handoff.created",
    )


def test_only_the_handoffs_team_channels_are_told(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    channel(org, fake_server.url + "/success", team="success", name="#success")
    send_signal()
    assert fake_server.requests == []


@pytest.mark.parametrize(
    ("triggers", "min_priority", "posted"),
    [
        ([], Priority.LOW, True),
        ([Trigger.HIGH_VALUE], Priority.LOW, True),
        ([Trigger.SENTIMENT, Trigger.COMPLEXITY], Priority.LOW, False),
        ([], Priority.URGENT, True),  # the rule raises it urgent
        ([Trigger.HIGH_VALUE], Priority.URGENT, True),
    ],
)
def test_channels_filter_by_trigger_and_priority(
    org: Org,
    send_signal: Any,
    fake_server: FakeServer,
    triggers: list[str],
    min_priority: str,
    posted: bool,
) -> None:
    channel(org, fake_server.url, triggers=triggers, min_priority=min_priority)
    send_signal()
    assert bool(fake_server.requests) is posted


def test_a_lower_priority_than_the_channel_wants_is_not_posted(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    org.rule.priority = Priority.NORMAL
    org.rule.save()
    channel(org, fake_server.url, min_priority=Priority.HIGH)
    send_signal()
    assert fake_server.requests == []


def test_an_escalation_is_posted_once_even_as_the_handoff_changes_again(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    channel(org, fake_server.url)
    send_signal()
    handoff = Handoff.objects.get()

    escalate(handoff.pk)
    handoff_claim(handoff_id=handoff.pk, user=org.users["sam"])  # still escalated, no new post

    created, escalated = (r.json()["text"] for r in fake_server.requests)
    link = f"{PUBLIC}/handoffs/{handoff.pk}/"
    assert created.startswith("Ada Lovelace needs a reply")
    assert escalated == (
        f"Escalated: Ada Lovelace still needs a reply (high value, £50,000). Answer: {link}"
    )
    assert OutboundDelivery.objects.filter(event_type="handoff.escalated").count() == 1


def test_a_channel_may_want_escalations_only(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    channel(org, fake_server.url, on_created=False, on_escalated=True)
    send_signal()
    assert fake_server.requests == []
    escalate(Handoff.objects.get().pk)
    [request] = fake_server.requests
    assert request.json()["text"].startswith("Escalated: Ada Lovelace")


def test_teams_gets_an_adaptive_card_with_the_same_words(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    channel(org, fake_server.url + "/workflows/abc", kind=NotificationKind.TEAMS, name="Sales")
    fake_server.default = Answer(202, "")  # Teams Workflows answer 202 Accepted

    send_signal()

    handoff = Handoff.objects.get()
    [request] = fake_server.requests
    card = request.json()["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    texts = [block.get("text") for block in card["content"]["body"]]
    link = f"{PUBLIC}/handoffs/{handoff.pk}/"
    assert f"Ada Lovelace needs a reply (high value, £50,000). Answer: {link}" in texts
    assert card["content"]["actions"] == [
        {"type": "Action.OpenUrl", "title": "Answer", "url": link}
    ]
    assert OutboundDelivery.objects.get().status == DeliveryStatus.DELIVERED


def test_slack_revoking_the_webhook_is_a_dead_letter_at_once(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    channel(org, fake_server.url)
    fake_server.default = Answer(404, "no_service")
    send_signal()
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DEAD, 1)
    assert "no_service" in delivery.last_error


def test_a_slack_outage_is_retried_like_any_delivery(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    channel(org, fake_server.url)
    fake_server.answers = [Answer(500, "internal_error")]
    send_signal()
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.RETRYING, 500)
    OutboundDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    from portal.integrations.tasks import outbound_sweep

    outbound_sweep()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(fake_server.requests) == 2


@pytest.mark.parametrize(
    ("properties", "shown"),
    [
        ({"budget": 50000, "currency": "GBP"}, "£50,000"),
        ({"amount": 1250.5, "currency": "usd"}, "$1,250.50"),
        ({"deal_value": "12000", "currency": "CHF"}, "12,000 CHF"),
        ({"budget": "lots"}, None),
        ({"budget": True}, None),
        ({"note": 5}, None),
        (None, None),
    ],
)
def test_the_amount_shown_comes_from_the_raising_signal(properties: Any, shown: str | None) -> None:
    assert amount_of(properties) == shown


def test_money_without_a_currency_uses_the_base_currency(settings: Any) -> None:
    settings.BATON_BASE_CURRENCY = "EUR"
    assert money(900, "") == "€900"


def ops_may_edit_channels(user: Any) -> None:
    """What seed_demo's ops group holds for this model."""
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="portal", codename__endswith="_notificationchannel"
        )
    )


def test_admin_masks_the_webhook_url_and_keeps_it_when_left_blank(org: Org) -> None:
    olive = org.users["olive"]
    ops_may_edit_channels(olive)
    admin = Client()
    admin.force_login(olive)
    url = "https://hooks.slack.com/services/T000/B000/abcdefghijkl"
    made = admin.post(
        "/admin/portal/notificationchannel/add/",
        {
            "team": org.teams["sales"].pk,
            "name": "#sales-handoffs",
            "kind": "slack",
            "webhook_url": url,
            "triggers": ["high_value"],
            "min_priority": "high",
            "on_created": "on",
            "on_escalated": "on",
            "is_active": "on",
        },
    )
    assert made.status_code == 302, made.content.decode()[:2000]
    saved = NotificationChannel.objects.get()
    assert (saved.webhook_url, saved.triggers, saved.min_priority) == (url, ["high_value"], "high")

    listing = admin.get("/admin/portal/notificationchannel/").content.decode()
    page = admin.get(f"/admin/portal/notificationchannel/{saved.pk}/change/").content.decode()
    for html in (listing, page):
        assert "abcdefghijkl" not in html
        assert "https://hooks.slack.com/…ijkl" in html

    admin.post(
        f"/admin/portal/notificationchannel/{saved.pk}/change/",
        {
            "team": org.teams["sales"].pk,
            "name": "#sales-urgent",
            "kind": "slack",
            "webhook_url": "",
            "min_priority": "urgent",
            "on_created": "on",
            "is_active": "on",
        },
    )
    saved.refresh_from_db()
    assert (saved.name, saved.webhook_url, saved.triggers) == ("#sales-urgent", url, [])


def test_ops_only_see_and_pick_teams_whose_rules_they_edit(org: Org) -> None:
    from portal.choices import Role
    from portal.services import membership_remove, membership_set

    olive = org.users["olive"]
    for slug in ("success", "support", "marketing"):
        membership_remove(user=olive, team=org.teams[slug])
    membership_set(user=olive, team=org.teams["sales"], role=Role.OPS)
    ops_may_edit_channels(olive)
    channel(org, "https://hooks.slack.com/services/T/B/sales1")
    channel(org, "https://hooks.slack.com/services/T/B/succ1", team="success", name="#success")
    admin = Client()
    admin.force_login(olive)
    listing = admin.get("/admin/portal/notificationchannel/").content.decode()
    assert "#sales-handoffs" in listing
    assert "#success" not in listing
    form = admin.get("/admin/portal/notificationchannel/add/").content.decode()
    assert ">Sales<" in form
    assert ">Success<" not in form


def test_ops_see_only_their_teams_posts_in_the_delivery_lists(org: Org) -> None:
    from portal.choices import Role
    from portal.services import membership_remove, membership_set

    olive = org.users["olive"]
    for slug in ("success", "support", "marketing"):
        membership_remove(user=olive, team=org.teams[slug])
    membership_set(user=olive, team=org.teams["sales"], role=Role.OPS)
    olive.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="portal",
            codename__in=["view_outbounddelivery", "view_deadletter"],
        )
    )
    sales = channel(org, "https://hooks.slack.com/services/T/B/s1", name="#sales")
    success = channel(org, "https://hooks.slack.com/services/T/B/s2", team="success", name="#cs")
    for n, target in enumerate([sales, success]):
        OutboundDelivery.objects.create(
            kind="slack",
            channel=target,
            event_type="handoff.created",
            event_key=f"created:{n}",
            payload={"text": "x"},
            status=DeliveryStatus.DEAD,
            next_attempt_at=target.created_at,
        )
    admin = Client()
    admin.force_login(olive)
    for url in ("/admin/portal/outbounddelivery/", "/admin/portal/deadletter/"):
        html = admin.get(url).content.decode()
        assert "Sales — #sales (Slack)" in html
        assert "#cs (Slack)" not in html


def test_the_sla_sweeps_escalation_is_posted(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    """Through the real breach sweep (handoffs/services/breaches.py), not a stand-in."""
    from datetime import timedelta

    from django.utils import timezone

    from handoffs.services.breaches import handoffs_sla_sweep

    channel(org, fake_server.url, on_created=False)
    send_signal()
    handoff = Handoff.objects.get()

    result = handoffs_sla_sweep(now=timezone.now() + timedelta(days=3))

    handoff.refresh_from_db()
    assert (result.escalated, handoff.escalated) == (1, True)
    [request] = fake_server.requests
    assert request.json()["text"].startswith("Escalated: Ada Lovelace still needs a reply")
