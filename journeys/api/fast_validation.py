"""The common signal, checked in plain Python: a batch of 1000 must not spend most of its time
building DRF field machinery.

`signal_fast` accepts only what `SignalInSerializer` accepts unchanged — exact types, no
surrounding whitespace, lengths within the limits, no NUL or lone surrogate — and returns what
the serializer would return for it (a time is parsed by the serializer's own field). For
anything else (a blank where a value is required, a doubtful character, any error at all) it
answers None, and the serializer decides and
words the error. A property test holds the two together (journeys/tests/test_fast_validation.py)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from rest_framework import serializers

from journeys.api.serializers import PHONE, SIGNAL_TYPE, _zones
from portal.api_fields import BoundedJSONObject

SIGNAL_KEYS = frozenset(
    {"type", "idempotency_key", "occurred_at", "contact", "account", "properties"}
)
CONTACT_KEYS = frozenset({"external_id", "email", "phone", "name", "timezone"})
ACCOUNT_KEYS = frozenset({"external_id", "name"})
_properties = BoundedJSONObject(required=False)
_occurred_at = serializers.DateTimeField(required=False)  # the serializer's field: same parse


def signal_fast(raw: Any) -> dict[str, Any] | None:
    """The validated signal, or None: "ask the serializer"."""
    if type(raw) is not dict or not raw.keys() <= SIGNAL_KEYS:
        return None
    kind = raw.get("type")
    if not _text(kind, 64) or not SIGNAL_TYPE.match(kind):
        return None
    out: dict[str, Any] = {"type": kind}
    if "idempotency_key" in raw:
        key = raw["idempotency_key"]
        if key is not None and not _text(key, 200):
            return None
        out["idempotency_key"] = key
    if "occurred_at" in raw:
        if type(raw["occurred_at"]) is not str:
            return None
        try:
            out["occurred_at"] = _occurred_at.run_validation(raw["occurred_at"])
        except serializers.ValidationError:
            return None
    contact = _contact(raw.get("contact"))
    if contact is None:
        return None
    out["contact"] = contact
    if "account" in raw:
        account = raw["account"]
        if account is not None:
            account = _account(account)
            if account is None:
                return None
        out["account"] = account
    if "properties" in raw:
        try:
            out["properties"] = _properties.to_internal_value(raw["properties"])
        except serializers.ValidationError:
            return None
    return out


def _contact(raw: Any) -> dict[str, Any] | None:
    if type(raw) is not dict or not raw.keys() <= CONTACT_KEYS:
        return None
    if not _text(raw.get("external_id"), 200):
        return None
    for name, limit in (("name", 200), ("email", 254), ("phone", 32), ("timezone", 64)):
        if name in raw and not _text(raw[name], limit, blank=True):
            return None
    if raw.get("email"):
        try:
            validate_email(raw["email"])
        except DjangoValidationError:
            return None
    if raw.get("phone") and not PHONE.match(raw["phone"]):
        return None
    if raw.get("timezone") and raw["timezone"] not in _zones():
        return None
    return dict(raw)


def _account(raw: Any) -> dict[str, Any] | None:
    if type(raw) is not dict or not raw.keys() <= ACCOUNT_KEYS:
        return None
    if not _text(raw.get("external_id"), 200):
        return None
    if "name" in raw and not _text(raw["name"], 200, blank=True):
        return None
    return dict(raw)


def _text(value: Any, limit: int, *, blank: bool = False) -> bool:
    """Text the serializer keeps exactly as sent."""
    if type(value) is not str or len(value) > limit or value != value.strip():
        return False
    if not value:
        return blank
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True
