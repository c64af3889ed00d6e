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


CONTACT_DATA_PERMISSIONS = {
    "export": "journeys.export_contact_data",
    "erase": "journeys.erase_contact_data",
}


def require_contact_data_right(request: Request, action: str) -> Any:
    """Export and erase (journeys/privacy.py): a key with `can_manage_contact_data`, or a person
    with the matching permission (superusers; ops it is granted to in admin)."""
    principal = request.user
    if isinstance(principal, ApiKey):
        allowed = principal.can_manage_contact_data
    else:
        allowed = principal.has_perm(CONTACT_DATA_PERMISSIONS[action])
    if not allowed:
        raise Forbidden(f"You may not {action} contacts' personal data.")
    return principal
