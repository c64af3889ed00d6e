"""Writes to the playbook: ops save rows in admin; each save is audited. Nothing else changes
state here — recommending and drafting never write (and never send)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from journeys.playbook.models import PlaybookItem

audit_log = logging.getLogger("baton.audit")


@transaction.atomic
def playbook_item_save(*, item: PlaybookItem, actor: Any, changed: list[str]) -> PlaybookItem:
    """Save a next-step rule, content item or reply template; the audit says who changed what."""
    created = item.pk is None
    item.save()
    audit_log.info(
        "playbook %s %s %s by %s (changed: %s)",
        item._meta.model_name,
        item.pk,
        "created" if created else "saved",
        getattr(actor, "pk", None),
        changed,
    )
    return item


@transaction.atomic
def playbook_item_delete(*, item: PlaybookItem, actor: Any) -> None:
    pk, name = item.pk, item._meta.model_name
    item.delete()
    audit_log.info("playbook %s %s deleted by %s", name, pk, getattr(actor, "pk", None))
