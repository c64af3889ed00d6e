"""The error answers every API operation documents in the OpenAPI schema, next to its success.

Every JSON error is `{"detail": ..., "errors"?: {field: [messages]}}` (portal/errors.py); the
Segment endpoints add Segment's own `success`/`code`/`message` (portal/integrations/
segment_api.py). What each status means here:

- 400 invalid input (body, query string, filters, pagination; bad UTF-8, NULs, deep JSON)
- 401 no or an invalid/revoked API key (or webhook signature)
- 403 signed in or keyed, but this caller may not do this (a person on an integration endpoint,
  a key on a person's action, a role that may read but not act; a session without CSRF token)
- 404 no such object, or another team's (never a hint which), or a page past the end
- 409 the object's state no longer allows the action (a lost race), or a repeated delivery
- 413 a body over BATON_MAX_BODY_BYTES
- 415 a body that is not JSON on a JSON endpoint
- 429 over the caller's rate limit, with Retry-After (docs/api.md)"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ApiErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field (dotted path) → what is wrong with it.",
    )


class SegmentErrorSerializer(serializers.Serializer):
    """A refusal in Segment's shape. A request refused before the view (a query string that is
    not UTF-8) carries `detail` only."""

    success = serializers.BooleanField(required=False)
    code = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    detail = serializers.CharField()
    errors = serializers.JSONField(
        required=False,
        help_text="One event: {field: [messages]}; a batch: one {index, messageId, code, errors} "
        "per refused event.",
    )


DESCRIPTIONS = {
    400: "Invalid input; nothing was changed.",
    401: "No credentials, or invalid or revoked ones.",
    403: "This caller may not do this.",
    404: "No such object, or one of a team the caller cannot see.",
    409: "The object's state no longer allows this (e.g. someone else claimed it first).",
    413: "The body is larger than the server takes.",
    415: "The body is not JSON.",
    429: "Over the rate limit; retry after the Retry-After header's seconds.",
}

# Every operation can answer these (the middleware and DRF's authentication and throttle).
COMMON = (400, 401, 403, 413, 429)


def error_responses(
    *codes: int, common: tuple[int, ...] = COMMON, body: object = ApiErrorSerializer
) -> dict[int, OpenApiResponse]:
    """`responses={200: X, **error_responses(404, 409)}`: the common errors and these."""
    return {
        code: OpenApiResponse(response=body, description=DESCRIPTIONS[code])
        for code in sorted({*common, *codes})
    }
