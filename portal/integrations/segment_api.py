"""HTTP for the Segment-compatible endpoints: the write key as the Basic-auth user name (or a
Bearer key, or `writeKey` in the body, as browser SDKs send it), gzip bodies, and Segment's
answers — 200 `{"success": true}`; errors as JSON with `code` and `message` (what the SDKs log)
besides Baton's usual `detail` and `errors`."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import authentication, exceptions, serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api_auth import api_key_lookup
from portal.api_schema import SegmentErrorSerializer, error_responses
from portal.errors import api_exception_handler
from portal.integrations.segment import EVENT_TYPES, MAX_BATCH, segment_ingest
from portal.models import ApiKey


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Body too large."


def _limit() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class SegmentJSONParser(BaseParser):
    """JSON whatever the Content-Type says (analytics.js posts text/plain to avoid a CORS
    preflight), gzip-decoded when `Content-Encoding: gzip`, never more than the body limit
    after decompression."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        request = parser_context["request"]
        limit = _limit()
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise exceptions.ParseError("Invalid Content-Length header.") from None
        if declared > limit:
            raise PayloadTooLarge(f"Body larger than {limit} bytes.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"Body larger than {limit} bytes.")
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding == "gzip":
            raw = _gunzip(raw, limit)
        elif encoding not in ("", "identity"):
            raise exceptions.UnsupportedMediaType(
                f"Content-Encoding {encoding[:20]}", detail="Send the body plain or gzip-encoded."
            )
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(f"Body is not JSON: {str(exc)[:120]}") from None


def _gunzip(raw: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise exceptions.ParseError("Content-Encoding is gzip but the body is not.") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"Body larger than {limit} bytes once decompressed.")
    if not inflater.eof:
        raise exceptions.ParseError("The gzip body is cut short.")
    return out


class WriteKeyAuthentication(authentication.BaseAuthentication):
    """A Baton API key as Segment's write key: Basic auth `<key>:`, `Bearer <key>`, or the
    body's `writeKey`."""

    def authenticate(self, request: Request) -> tuple[ApiKey, ApiKey] | None:
        raw = _header_key(request.META.get("HTTP_AUTHORIZATION", ""))
        if raw is None and isinstance(request.data, dict):
            body_key = request.data.get("writeKey")
            raw = body_key if isinstance(body_key, str) and body_key else None
        if raw is None:
            return None
        key = api_key_lookup(raw.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked write key.")
        return key, key

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="baton"'


def _header_key(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise exceptions.AuthenticationFailed("Malformed Basic authorization header.") from None
    username, _, _password = decoded.partition(":")
    return username or None


def segment_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = api_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        code = {
            400: "invalid_request",
            401: "unauthorized",
            409: "conflict",
            413: "too_large",
            429: "rate_limited",
        }
        response.data = {
            "success": False,
            "code": code.get(response.status_code, "error"),
            "message": response.data.get("detail", ""),
            **response.data,
        }
    return response


SUCCESS = inline_serializer(
    "SegmentSuccess",
    {
        "success": serializers.BooleanField(),
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "errors": serializers.ListField(child=serializers.DictField()),
    },
)


_ID = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
        {"type": "integer"},
    ]
}
_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": {}}
# Read only without an Authorization header, and only when it is text.
WRITE_KEY = {"description": "The write key, as browser SDKs send it (else the header's)."}
_REQUIRED_BY_TYPE = {"track": ["event"], "group": ["groupId"], "alias": ["previousId"]}


def event_schema(event_type: str | None) -> dict[str, Any]:
    """One Segment event as Baton reads it (portal/integrations/segment.py). Baton checks more
    than a schema can say — traits' email, phone and time zone; the event name's shape."""
    types = [event_type] if event_type else list(EVENT_TYPES)
    required = ["messageId", *(_REQUIRED_BY_TYPE.get(event_type or "", []))]
    if event_type is None:
        required.append("type")
    return {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": types},
            "messageId": {**_ID, "description": "The idempotency key (per write key)."},
            "userId": {**_ID, "description": "The contact's external id."},
            "anonymousId": {**_ID, "description": "Without userId: anonymous:<anonymousId>."},
            "event": {"type": "string", "minLength": 1, "description": "track: its name."},
            "groupId": _ID,
            "previousId": _ID,
            "name": {"type": "string"},
            "category": {"type": "string"},
            "properties": _OBJECT,
            "traits": _OBJECT,
            "context": _OBJECT,
            "timestamp": {"type": "string", "format": "date-time"},
            "originalTimestamp": {"type": "string", "format": "date-time"},
            "writeKey": WRITE_KEY,
        },
        "required": required,
        "anyOf": [{"required": ["userId"]}, {"required": ["anonymousId"]}],
    }


def request_schema(event_type: str | None) -> dict[str, Any]:
    if event_type is not None:
        return event_schema(event_type)
    return {
        "type": "object",
        "properties": {
            "batch": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH,
                "items": event_schema(None),
            },
            "context": {**_OBJECT, "description": "Shared by every event (theirs wins)."},
            "writeKey": WRITE_KEY,
        },
        "required": ["batch"],
    }


class SegmentSchema(AutoSchema):
    """Each Segment endpoint documents its own event (one view class serves them all)."""

    def get_request_serializer(self) -> Any:
        return {"application/json": request_schema(getattr(self.view, "event_type", None))}


class SegmentView(APIView):
    """One Segment endpoint; `event_type` None is the batch endpoint."""

    authentication_classes = [WriteKeyAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [SegmentJSONParser]
    renderer_classes = [JSONRenderer]
    schema = SegmentSchema()
    event_type: str | None = None

    def get_exception_handler(self) -> Any:
        return segment_exception_handler

    @extend_schema(
        responses={
            200: SUCCESS,
            # No 403: a caller without a valid write key is a 401 here.
            **error_responses(409, 415, common=(400, 401, 413, 429), body=SegmentErrorSerializer),
        },
        summary="Segment/RudderStack HTTP Tracking API (write key as Basic user name)",
        examples=[
            OpenApiExample(
                "track",
                value={
                    "type": "track",
                    "messageId": "0b5c7e0a-8f0b-4c55-9d0e-2f8f1a3c6b11",
                    "userId": "c-1001",
                    "event": "Form Submitted",
                    "properties": {"budget": 50000, "currency": "GBP"},
                    "context": {"traits": {"email": "ada@example.com", "name": "Ada Lovelace"}},
                    "timestamp": "2026-11-21T10:00:00Z",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        api_key = request.user
        assert isinstance(api_key, ApiKey)  # WriteKeyAuthentication or 401
        body = request.data
        if not isinstance(body, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        if self.event_type is None:
            events = body.get("batch")
            if not isinstance(events, list) or not events:
                raise exceptions.ValidationError({"batch": ["Expected a non-empty list."]})
            if len(events) > MAX_BATCH:
                raise exceptions.ValidationError({"batch": [f"At most {MAX_BATCH} events."]})
            events = [_with_shared(event, body) for event in events]
        else:
            events = [{k: v for k, v in body.items() if k not in ("writeKey", "sentAt")}]
        result = segment_ingest(api_key=api_key, events=events, endpoint_type=self.event_type)
        if result.errors and not (result.accepted or result.duplicates):
            conflict = all(error["code"] == "conflict" for error in result.errors)
            summary = _summary(result.errors)
            return Response(
                {
                    "success": False,
                    "code": "conflict" if conflict else "invalid_request",
                    "message": summary,
                    "detail": summary,
                    # One event: Baton's usual {field: [messages]}; a batch: one entry per event.
                    "errors": result.errors[0]["errors"] if self.event_type else result.errors,
                },
                status=status.HTTP_409_CONFLICT if conflict else status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            {
                "success": True,
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "errors": result.errors,
            }
        )


def _with_shared(event: Any, body: dict[str, Any]) -> Any:
    """A batch's top-level `context` and `integrations` apply to each event (the event's own
    keys win)."""
    if not isinstance(event, dict):
        return event
    merged = dict(event)
    shared = body.get("context")
    if isinstance(shared, dict) and isinstance(event.get("context", {}), dict):
        merged["context"] = {**shared, **event.get("context", {})}
    return merged


def _summary(errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    fields = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in first["errors"].items())
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"Event {first['index']} refused — {fields}{more}"


@extend_schema_view(post=extend_schema(exclude=True))
class SegmentShortPathView(SegmentView):
    """/v1/t, /v1/b …: the same endpoints under analytics.js's one-letter paths (undocumented
    in the schema, which lists each endpoint once)."""


def segment_view(event_type: str | None, *, short: bool = False) -> Any:
    view = SegmentShortPathView if short else SegmentView
    return view.as_view(event_type=event_type)


class WriteKeyScheme(OpenApiAuthenticationExtension):
    target_class = "portal.integrations.segment_api.WriteKeyAuthentication"
    name = "segmentWriteKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "A Baton API key as Segment's write key: the Basic-auth user name, "
            "empty password.",
        }
