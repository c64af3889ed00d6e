"""`Authorization: Bearer <key>` for integrations. Keys look like `bk_<prefix>_<secret>`."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from portal.models import ApiKey

KEY_PREFIX = "bk_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_lookup(raw: str) -> ApiKey | None:
    """The active key for `raw`, or None. Constant-time compare on the hash."""
    if not raw.startswith(KEY_PREFIX) or len(raw) > 200:
        return None
    try:
        prefix, secret = raw[len(KEY_PREFIX) :].split("_", 1)
    except ValueError:
        return None
    key = ApiKey.objects.filter(prefix=prefix, revoked_at=None).first()
    if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
        return None
    stale = timezone.now() - timedelta(minutes=5)
    if key.last_used_at is None or key.last_used_at < stale:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema (and Swagger's Authorize button) about Bearer keys."""

    target_class = "portal.api_auth.ApiKeyAuthentication"
    name = "integrationKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "bk_… integration key"}


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKey, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        key = api_key_lookup(raw.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return key, key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="baton"'
