"""The contact behind an address: channels (SMS, WhatsApp, email) and mapped webhooks know a phone
number or an email address, not our external id.

An address we know answers with that contact's external id (so nothing about them changes);
an unknown one becomes a new contact keyed `tel:+447700900123` / `email:ada@example.com`, so a
second message from the same address, even a concurrent one, lands on the same contact (the
ingest services upsert by external id)."""

from __future__ import annotations

import re
from typing import Any

from journeys.models import Contact, phone_digits


def normalise_phone(raw: str) -> str:
    """`+44 7700 900-123` → `+447700900123` (what the lookup compares)."""
    return re.sub(r"[^0-9+]", "", raw)


def phone_contact(*, phone: str, name: str = "") -> dict[str, Any]:
    """The contact dict (for `InboundMessage` / a signal) for a phone number."""
    wanted = normalise_phone(phone)
    existing = _match_phone(wanted)
    if existing is not None:
        return {"external_id": existing}
    contact: dict[str, Any] = {"external_id": f"tel:{wanted}", "phone": wanted}
    if name:
        contact["name"] = name[:200]
    return contact


def email_contact(*, email: str, name: str = "") -> dict[str, Any]:
    """The contact dict for an email address (matched without regard to case)."""
    address = email.strip()
    existing = (
        Contact.objects.filter(email__iexact=address)
        .order_by("-updated_at", "-id")
        .values_list("external_id", flat=True)
        .first()
    )
    if existing is not None:
        return {"external_id": existing}
    contact: dict[str, Any] = {"external_id": f"email:{address.lower()}", "email": address}
    if name:
        contact["name"] = name[:200]
    return contact


def _match_phone(wanted: str) -> str | None:
    exact = (
        Contact.objects.filter(phone=wanted)
        .order_by("-updated_at", "-id")
        .values_list("external_id", flat=True)
        .first()
    )
    if exact is not None:
        return exact
    # Contacts created through the API may carry a formatted number ("+44 7700 900123").
    return (
        Contact.objects.exclude(phone="")
        .annotate(digits=phone_digits())
        .filter(digits=wanted)
        .order_by("-updated_at", "-id")
        .values_list("external_id", flat=True)
        .first()
    )
