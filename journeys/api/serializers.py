from __future__ import annotations

import re
import zoneinfo
from functools import cache
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api_fields import BoundedJSONObject, StrictSerializer, TextField

SIGNAL_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}$")


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


# What the schema says of these (the checks below are the truth; the schema mirrors them).
@extend_schema_field(
    {"type": "string", "enum": ["", *sorted(_zones())], "description": "An IANA time zone."}
)
class TimeZoneField(TextField):
    pass


@extend_schema_field(
    {"type": "string", "maxLength": 32, "pattern": f"{PHONE.pattern}|^$", "description": "E.164"}
)
class PhoneField(TextField):
    pass


class ContactInSerializer(StrictSerializer):
    external_id = TextField(max_length=200)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = PhoneField(max_length=32, required=False, allow_blank=True)
    name = TextField(max_length=200, required=False, allow_blank=True)
    timezone = TimeZoneField(max_length=64, required=False, allow_blank=True)

    def validate_phone(self, value: str) -> str:
        if value and not PHONE.match(value):
            raise serializers.ValidationError("Not a phone number (use E.164, e.g. +447700900123).")
        return value

    def validate_timezone(self, value: str) -> str:
        if value and value not in _zones():
            raise serializers.ValidationError(f"Unknown time zone {value!r} (e.g. Europe/London).")
        return value


class AccountInSerializer(StrictSerializer):
    external_id = TextField(max_length=200)
    name = TextField(max_length=200, required=False, allow_blank=True)


@extend_schema_field({"type": "string", "pattern": SIGNAL_TYPE.pattern, "maxLength": 64})
class SignalTypeField(TextField):
    pass


class SignalInSerializer(StrictSerializer):
    type = SignalTypeField(max_length=64)
    idempotency_key = TextField(max_length=200, required=False, allow_null=True)
    occurred_at = serializers.DateTimeField(required=False)
    contact = ContactInSerializer()
    account = AccountInSerializer(required=False, allow_null=True)
    properties = BoundedJSONObject(required=False)

    def validate_type(self, value: str) -> str:
        if not SIGNAL_TYPE.match(value):
            raise serializers.ValidationError(
                "Letters, digits and _ . : - only, starting with a letter or digit."
            )
        return value


class SignalAcceptedSerializer(serializers.Serializer):
    id = serializers.CharField()
    duplicate = serializers.BooleanField()


class SignalBatchInSerializer(serializers.Serializer):
    signals = serializers.ListField(child=serializers.JSONField(), max_length=1000)


class SignalBatchOutSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())


def signal_validator() -> Any:
    """Validate many signals: the common shape in plain Python (fast_validation.py), anything
    else with one serializer instance (building one deep-copies its fields, which costs more
    than validating a signal). The serializer words every error."""
    from journeys.api.fast_validation import signal_fast  # it reads this module's patterns

    serializer = SignalInSerializer()

    def validate(data: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        if (fast := signal_fast(data)) is not None:
            return fast, None
        try:
            return dict(serializer.run_validation(data)), None
        except serializers.ValidationError as exc:
            detail = (
                exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            )
            return None, detail

    return validate


def validate_signal(data: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    return signal_validator()(data)
