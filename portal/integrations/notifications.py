"""Slack and Microsoft Teams notifications for handoffs: "Ada Lovelace needs a reply (high value,
£50,000). Answer: <deep link>", per team channel, filtered by trigger and priority, and one more
when the SLA sweep escalates the handoff.

What to post is decided when the event is dispatched (`notifications_for`) and stored as an
OutboundDelivery, so posts go through the same persisted, leased, retried path as webhooks
(outbound.py). Slack goes through the official SDK (`slack_sdk.WebhookClient`); Teams has no
maintained Python SDK for its incoming webhooks, so an Adaptive Card is posted with httpx — the
format both Teams "Workflows" webhooks and the older connectors accept."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from django.conf import settings
from django.urls import reverse
from slack_sdk.webhook import WebhookClient

from handoffs.choices import ACTIVE_STATUSES, Priority, Trigger
from portal.integrations.outbound import Attempt, attempt_from_http
from portal.integrations.outbound_models import (
    DeliveryKind,
    NotificationChannel,
    NotificationKind,
    OutboundDelivery,
)

AMOUNT_KEYS = ("budget", "amount", "deal_value", "value")
CURRENCY_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€", "JPY": "¥", "INR": "₹"}
# Slack's answers that no retry can fix: the payload, the token, the channel (api.slack.com,
# "Handling errors" for incoming webhooks).
SLACK_PERMANENT = frozenset(
    {
        "invalid_payload",
        "no_text",
        "invalid_token",
        "action_prohibited",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "channel_not_found",
        "channel_is_archived",
        "user_not_found",
        "posting_to_general_channel_denied",
    }
)
DEMO_PUBLIC_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Notification:
    """A post for one channel: `key` makes it once per channel (created:42, escalated:42)."""

    key: str
    event_type: str
    payload: dict[str, Any]


def public_url() -> str:
    return settings.BATON_PUBLIC_URL or DEMO_PUBLIC_URL


def handoff_link(handoff_id: int) -> str:
    return public_url() + reverse("handoff-detail", args=[handoff_id])


def money(amount: Any, currency: str) -> str | None:
    """£50,000 / $1,250.50 / 12,000 CHF; None for something that is not an amount."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or isinstance(amount, bool):
        return None
    text = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    code = (currency or settings.BATON_BASE_CURRENCY).upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{symbol}{text}" if symbol else f"{text} {code}"


def amount_of(properties: dict[str, Any] | None) -> str | None:
    """The value behind a handoff, from the signal that raised it (budget, amount, …)."""
    if not isinstance(properties, dict):
        return None
    for key in AMOUNT_KEYS:
        if key in properties and (shown := money(properties[key], properties.get("currency"))):
            return shown
    return None


def describe(handoff: dict[str, Any], amount: str | None) -> str:
    """ "high value, £50,000" / "sentiment" — the why, in the channel's words."""
    try:
        label = Trigger(handoff.get("trigger")).label.lower()
    except ValueError:
        label = str(handoff.get("trigger") or "handoff")
    return f"{label}, {amount}" if amount else label


def contact_name(handoff: dict[str, Any]) -> str:
    contact = handoff.get("contact") or {}
    return contact.get("name") or contact.get("external_id") or f"Contact #{contact.get('id')}"


def render(handoff: dict[str, Any], *, amount: str | None, escalated: bool) -> dict[str, Any]:
    """The message, provider-neutral: stored as the delivery's payload and shown in admin."""
    name = contact_name(handoff)
    link = handoff_link(int(handoff["id"]))
    why = describe(handoff, amount)
    if escalated:
        text = f"Escalated: {name} still needs a reply ({why}). Answer: {link}"
        headline = f"Escalated: {name} still needs a reply"
    else:
        text = f"{name} needs a reply ({why}). Answer: {link}"
        headline = f"{name} needs a reply"
    try:
        priority = Priority(handoff.get("priority")).label
    except ValueError:
        priority = str(handoff.get("priority"))
    return {
        "text": text,
        "headline": headline,
        "why": why,
        "reason": str(handoff.get("reason") or ""),
        "priority": priority,
        "team": str(handoff.get("team") or ""),
        "link": link,
        "handoff_id": handoff["id"],
    }


def notifications_for(
    *,
    channel: NotificationChannel,
    event_type: str,
    team_id: int,
    handoff: dict[str, Any],
    properties: dict[str, Any] | None,
) -> Notification | None:
    """What `channel` should post about this handoff event, if anything: a new handoff, or the
    first event showing it escalated while still open (the SLA sweep's escalation)."""
    if channel.team_id != team_id or not channel.wants(handoff):
        return None
    amount = amount_of(properties)
    if event_type == "handoff.created" and channel.on_created:
        return Notification(
            key=f"created:{handoff['id']}",
            event_type=event_type,
            payload=render(handoff, amount=amount, escalated=False),
        )
    if (
        event_type == "handoff.updated"
        and channel.on_escalated
        and handoff.get("escalated")
        and handoff.get("status") in ACTIVE_STATUSES
    ):
        return Notification(
            key=f"escalated:{handoff['id']}",
            event_type="handoff.escalated",
            payload=render(handoff, amount=amount, escalated=True),
        )
    return None


def slack_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*<{message['link']}|{_slack_escape(message['headline'])}>*\n"
                f"{_slack_escape(message['why'].capitalize())} · {message['priority']} priority"
                f" · {_slack_escape(message['team'])}",
            },
        },
        *(
            [
                {
                    "type": "context",
                    "elements": [{"type": "plain_text", "text": message["reason"][:2000]}],
                }
            ]
            if message.get("reason")
            else []
        ),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Answer"},
                    "url": message["link"],
                    "style": "primary",
                }
            ],
        },
    ]


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn control characters (api.slack.com, "Formatting text")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_card(message: dict[str, Any]) -> dict[str, Any]:
    """An Adaptive Card in the envelope Teams incoming webhooks take."""
    return {
        "type": "message",
        "summary": message["text"][:200],
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": message["headline"],
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": message["text"], "wrap": True},
                        {
                            "type": "FactSet",
                            "facts": [
                                {"title": "Why", "value": message["why"]},
                                {"title": "Priority", "value": message["priority"]},
                                {"title": "Team", "value": message["team"]},
                            ],
                        },
                    ],
                    "actions": [
                        {"type": "Action.OpenUrl", "title": "Answer", "url": message["link"]}
                    ],
                },
            }
        ],
    }


def send_notification(delivery: OutboundDelivery) -> Attempt:
    channel = delivery.channel
    if channel is None:
        return Attempt(ok=False, error="the channel was deleted", permanent=True)
    if delivery.kind == DeliveryKind.SLACK or channel.kind == NotificationKind.SLACK:
        return send_slack(channel.webhook_url, delivery.payload)
    return send_teams(channel.webhook_url, delivery.payload)


def send_slack(url: str, message: dict[str, Any]) -> Attempt:
    # retry_handlers=[]: the SDK must not resend on its own; the outbound table owns retries.
    client = WebhookClient(url, timeout=settings.BATON_OUTBOUND_TIMEOUT_SECONDS, retry_handlers=[])
    try:
        response = client.send(
            text=message["text"],
            blocks=slack_blocks(message),
            unfurl_links=False,
            unfurl_media=False,
        )
    except Exception as exc:  # urllib: refused, DNS, TLS, timeout
        reason = getattr(exc, "reason", None) or exc
        return Attempt(ok=False, error=f"could not reach Slack: {reason}")
    attempt = attempt_from_http(response.status_code, response.body, response.headers)
    if not attempt.ok and (response.body or "").strip() in SLACK_PERMANENT:
        return Attempt(
            ok=False,
            status_code=attempt.status_code,
            error=f"Slack refused the webhook: {attempt.error} (fix the channel's URL)",
            permanent=True,
        )
    return attempt


def send_teams(url: str, message: dict[str, Any]) -> Attempt:
    try:
        with httpx.Client(timeout=settings.BATON_OUTBOUND_TIMEOUT_SECONDS) as client:
            response = client.post(url, json=teams_card(message))
    except httpx.TimeoutException:
        return Attempt(ok=False, error="Teams timed out")
    except httpx.HTTPError as exc:
        return Attempt(ok=False, error=f"could not reach Teams: {exc or type(exc).__name__}")
    return attempt_from_http(response.status_code, response.text, response.headers)
