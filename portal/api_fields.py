"""Serializer pieces shared by every API app."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class TextField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of quietly turning them into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        # The limit holds for what was sent (as the schema says), not for what is left once
        # surrounding whitespace is trimmed.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length, length=len(data))
        return super().to_internal_value(data)

    default_error_messages = {
        **serializers.CharField.default_error_messages,
        "invalid": "Expected text.",
    }


class StrictSerializer(serializers.Serializer):
    """Rejects unknown fields by name instead of silently ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Expected a JSON object."]}, code="invalid"
            )
        unknown = {key: ["Unknown field."] for key in sorted(set(data) - set(self.fields))}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = (
                exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            )
            raise serializers.ValidationError({**detail, **unknown}) from None
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class TextFieldScheme(OpenApiSerializerFieldExtension):
    """Text that may not be blank must hold more than whitespace (it is trimmed first)."""

    target_class = TextField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if not self.target.allow_blank and self.target.trim_whitespace:
            schema["pattern"] = r"\S"
        return schema


class StrictSerializerScheme(OpenApiSerializerExtension):
    """Tells the schema what StrictSerializer enforces: no fields but its own."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


def json_depth(value: Any, limit: int) -> int:
    """Depth of nested containers, stopping early once past `limit`."""
    depth = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            depth = max(depth, level)
            if depth > limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return depth


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


@extend_schema_field({"type": "object", "additionalProperties": {}})
class BoundedJSONObject(serializers.JSONField):
    """A JSON object with a size and depth limit (properties from the outside world)."""

    def __init__(self, *, max_bytes: int = 32_768, max_depth: int = 8, **kwargs: Any) -> None:
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Expected a JSON object.")
        if json_depth(data, self.max_depth) > self.max_depth:
            raise serializers.ValidationError(f"Nested deeper than {self.max_depth} levels.")
        try:
            # What PostgreSQL's jsonb cannot hold must be refused here, not at insert time:
            # NaN/Infinity, NUL characters and lone surrogates.
            encoded = json.dumps(data, ensure_ascii=False, allow_nan=False).encode()
        except ValueError:
            raise serializers.ValidationError("NaN and Infinity are not JSON numbers.") from None
        except UnicodeEncodeError:
            raise serializers.ValidationError(
                "Contains invalid Unicode (a lone surrogate)."
            ) from None
        if _has_nul(data):
            raise serializers.ValidationError("Contains a NUL character.")
        if len(encoded) > self.max_bytes:
            raise serializers.ValidationError(f"Larger than {self.max_bytes} bytes.")
        return data
