"""Writes for inbound webhooks: making one, rotating and retiring its signing secrets. Each
returns the new secret once (admin shows it once); the audit log records who did what, never
the secret."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.integrations.models import InboundWebhook

audit_log = logging.getLogger("baton.audit")
SECRET_PREFIX = "whsec_"  # noqa: S105 (a label, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def mask(secret: str) -> str:
    """Enough to tell two secrets apart, not enough to use one."""
    return f"{secret[: len(SECRET_PREFIX)]}…{secret[-4:]}" if secret else "—"


@transaction.atomic
def inbound_webhook_create(*, webhook: InboundWebhook, actor: Any) -> str:
    """Save a new webhook (its mapping already set on `webhook`) with a fresh secret."""
    secret = new_secret()
    webhook.secret = secret
    webhook.previous_secret = ""
    webhook.save()
    audit_log.info(
        "inbound webhook created: %s by user=%s", webhook.slug, getattr(actor, "pk", None)
    )
    return secret


@transaction.atomic
def inbound_webhook_rotate_secret(*, webhook_id: int, actor: Any) -> tuple[InboundWebhook, str]:
    """A new current secret; the old one keeps working as the previous secret until retired, so
    senders can switch without a gap. A previous secret still in place is dropped."""
    webhook = InboundWebhook.objects.select_for_update().get(pk=webhook_id)
    secret = new_secret()
    InboundWebhook.objects.filter(pk=webhook.pk).update(
        secret=secret, previous_secret=webhook.secret, secret_rotated_at=timezone.now()
    )
    audit_log.info("inbound webhook secret rotated: %s by user=%s", webhook.slug, actor.pk)
    webhook.refresh_from_db()
    return webhook, secret


@transaction.atomic
def inbound_webhook_retire_previous_secret(*, webhook_id: int, actor: Any) -> bool:
    """Stop accepting the previous secret. False when there was none."""
    retired = (
        InboundWebhook.objects.filter(pk=webhook_id)
        .exclude(previous_secret="")
        .update(previous_secret="")
    )
    if retired:
        audit_log.info(
            "inbound webhook previous secret retired: id=%s by user=%s", webhook_id, actor.pk
        )
    return bool(retired)
