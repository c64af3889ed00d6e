"""Who is calling the API: a person (session) or an integration (key)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from portal.errors import Forbidden
from portal.models import ApiKey


def require_integration(request: Request) -> ApiKey:
    if not isinstance(request.user, ApiKey):
        raise Forbidden("Signals are sent by integrations with an API key.")
    return request.user


def require_person(request: Request) -> Any:
    if isinstance(request.user, ApiKey):
        raise Forbidden("This action is for people; integration keys may not do it.")
    return request.user
