"""Writes for outbound webhook subscribers and team notification channels. Secrets are returned
once (admin shows them once); the audit log records who did what, never a secret or a URL."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from portal.integrations.outbound_models import (
    OUTBOUND_EVENT_TYPES,
    NotificationChannel,
    WebhookSubscription,
)
from portal.integrations.services import secret_issue, secret_retire_previous, secret_rotate

audit_log = logging.getLogger("baton.audit")

FAMILIES = sorted({t.split(".")[0] + ".*" for t in OUTBOUND_EVENT_TYPES})


def event_pattern_error(pattern: str) -> str | None:
    """Why a subscription pattern is not one Baton sends, else None."""
    if pattern == "*" or pattern in FAMILIES or pattern in OUTBOUND_EVENT_TYPES:
        return None
    return (
        f"{pattern!r} is not an event type: use {', '.join(FAMILIES)}, * or one of "
        f"{', '.join(OUTBOUND_EVENT_TYPES)}."
    )


def mask_url(url: str) -> str:
    """A webhook URL is a credential (whoever has it can post): show the host and its end."""
    if not url:
        return "—"
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return f"{scheme}://{host}/…{path[-4:]}" if path else f"{scheme}://{host}/"


def webhook_subscription_create(*, subscription: WebhookSubscription, actor: Any) -> str:
    return secret_issue(obj=subscription, actor=actor, what="outbound webhook")


def webhook_subscription_rotate_secret(
    *, subscription_id: int, actor: Any
) -> tuple[WebhookSubscription, str]:
    """Deliveries are signed with both secrets until the previous one is retired."""
    return secret_rotate(
        WebhookSubscription, pk=subscription_id, actor=actor, what="outbound webhook"
    )


def webhook_subscription_retire_previous_secret(*, subscription_id: int, actor: Any) -> bool:
    return secret_retire_previous(
        WebhookSubscription, pk=subscription_id, actor=actor, what="outbound webhook"
    )


@transaction.atomic
def notification_channel_save(*, channel: NotificationChannel, actor: Any) -> NotificationChannel:
    channel.save()
    audit_log.info(
        "notification channel saved: id=%s team=%s kind=%s by user=%s",
        channel.pk,
        channel.team_id,
        channel.kind,
        getattr(actor, "pk", None),
    )
    return channel
