"""Domain errors raised by services, and the one place they become JSON API answers."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from portal.outage import DETAIL, RETRY_HEADERS, is_outage, outage_log

security_log = logging.getLogger("baton.security")


class DomainError(Exception):
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class InvalidInput(DomainError):
    """Bad input that passed the shape checks but not the domain's (e.g. no channel to reply on)."""


class Conflict(DomainError):
    """A lost race or a state that no longer allows the action: 409."""

    status_code = status.HTTP_409_CONFLICT


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN


def flatten_errors(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in flatten_errors(value).items():
                    out[f"{key}.{sub}"] = msgs
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for index, item in enumerate(value):
                    for sub, msgs in flatten_errors(item).items():
                        out[f"{key}[{index}].{sub}"] = msgs
            elif isinstance(value, list):
                out[str(key)] = [str(v) for v in value]
            else:
                out[str(key)] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error is `{"detail": ..., "errors": {...}}` with the right status."""
    request = context.get("request")
    if is_outage(exc):  # the database is unreachable: 503 + Retry-After (portal/outage.py)
        outage_log(request, exc)
        return Response({"detail": DETAIL}, status=503, headers=RETRY_HEADERS)
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.detail}
        if exc.errors:
            body["errors"] = exc.errors
        if isinstance(exc, Forbidden):
            _log_denial(request, exc.detail)
        return Response(body, status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        return Response(
            {"detail": "Invalid input.", "errors": flatten_errors(exc.detail)},
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.PermissionDenied | exceptions.NotAuthenticated):
        _log_denial(request, str(exc.detail))
    detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
    response.data = {"detail": str(detail) if detail is not None else response.status_text}
    return response


def _log_denial(request: Any, why: str) -> None:
    if request is None:
        return
    who = getattr(getattr(request, "user", None), "pk", None)
    security_log.info("denied %s %s principal=%s: %s", request.method, request.path, who, why)


def log_not_visible(principal: Any, what: str) -> None:
    security_log.info("not visible: %s to principal=%s", what, getattr(principal, "pk", None))


def json_error(status_code: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status_code)
