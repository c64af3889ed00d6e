"""Writes for outbound webhook subscribers and team notification channels. Secrets are returned
once (admin shows them once); the audit log records who did what, never a secret or a URL."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.integrations.outbound_models import (
    OUTBOUND_EVENT_TYPES,
    NotificationChannel,
    WebhookSubscription,
)
from portal.integrations.services import new_secret

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


@transaction.atomic
def webhook_subscription_create(*, subscription: WebhookSubscription, actor: Any) -> str:
    secret = new_secret()
    subscription.secret = secret
    subscription.previous_secret = ""
    subscription.save()
    audit_log.info(
        "outbound webhook created: id=%s %s by user=%s",
        subscription.pk,
        subscription.event_types,
        getattr(actor, "pk", None),
    )
    return secret


@transaction.atomic
def webhook_subscription_rotate_secret(
    *, subscription_id: int, actor: Any
) -> tuple[WebhookSubscription, str]:
    """A new current secret; deliveries are signed with both until the previous one is
    retired, so a receiver can switch without a gap."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription_id)
    secret = new_secret()
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        secret=secret, previous_secret=subscription.secret, secret_rotated_at=timezone.now()
    )
    audit_log.info("outbound webhook secret rotated: id=%s by user=%s", subscription.pk, actor.pk)
    subscription.refresh_from_db()
    return subscription, secret


@transaction.atomic
def webhook_subscription_retire_previous_secret(*, subscription_id: int, actor: Any) -> bool:
    retired = (
        WebhookSubscription.objects.filter(pk=subscription_id)
        .exclude(previous_secret="")
        .update(previous_secret="")
    )
    if retired:
        audit_log.info(
            "outbound webhook previous secret retired: id=%s by user=%s", subscription_id, actor.pk
        )
    return bool(retired)


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
