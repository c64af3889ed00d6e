"""Writes for inbound webhooks: making one, rotating and retiring its signing secrets. Each
returns the new secret once (admin shows it once); the audit log records who did what, never
the secret."""

from __future__ import annotations

import logging
import secrets
from typing import Any, Protocol

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


class SignedModel(Protocol):
    """An integration row that signs with two secrets during a rotation."""

    pk: Any
    secret: str
    previous_secret: str

    def save(self) -> None: ...


@transaction.atomic
def secret_issue(*, obj: SignedModel, actor: Any, what: str) -> str:
    """Save a new row (its other fields already set) with a fresh secret, returned once."""
    secret = new_secret()
    obj.secret = secret
    obj.previous_secret = ""
    obj.save()
    audit_log.info("%s created: id=%s by user=%s", what, obj.pk, getattr(actor, "pk", None))
    return secret


@transaction.atomic
def secret_rotate[M](model: type[M], *, pk: int, actor: Any, what: str) -> tuple[M, str]:
    """A new current secret; the old one stays valid as the previous secret until retired, so
    the other side can switch without a gap. A previous secret still in place is dropped."""
    row = model.objects.select_for_update().get(pk=pk)  # type: ignore[attr-defined]
    secret = new_secret()
    model.objects.filter(pk=pk).update(  # type: ignore[attr-defined]
        secret=secret, previous_secret=row.secret, secret_rotated_at=timezone.now()
    )
    audit_log.info("%s secret rotated: id=%s by user=%s", what, pk, actor.pk)
    row.refresh_from_db()
    return row, secret


@transaction.atomic
def secret_retire_previous(model: type[Any], *, pk: int, actor: Any, what: str) -> bool:
    """Stop using the previous secret. False when there was none."""
    retired = model.objects.filter(pk=pk).exclude(previous_secret="").update(previous_secret="")
    if retired:
        audit_log.info("%s previous secret retired: id=%s by user=%s", what, pk, actor.pk)
    return bool(retired)


def inbound_webhook_create(*, webhook: InboundWebhook, actor: Any) -> str:
    """Save a new webhook (its mapping already set on `webhook`) with a fresh secret."""
    return secret_issue(obj=webhook, actor=actor, what="inbound webhook")


def inbound_webhook_rotate_secret(*, webhook_id: int, actor: Any) -> tuple[InboundWebhook, str]:
    return secret_rotate(InboundWebhook, pk=webhook_id, actor=actor, what="inbound webhook")


def inbound_webhook_retire_previous_secret(*, webhook_id: int, actor: Any) -> bool:
    return secret_retire_previous(
        InboundWebhook, pk=webhook_id, actor=actor, what="inbound webhook"
    )
