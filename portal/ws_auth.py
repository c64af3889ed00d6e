"""Who is on the other end of a websocket. Browsers (session cookie) must come from an allowed
Origin; programs authenticate with an API key (`?key=` or `Authorization: Bearer`) and send no
Origin. Anything else is refused before the handshake completes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from django.contrib.auth.models import AnonymousUser

from portal.api_auth import api_key_lookup


def _key_from(scope: dict[str, Any]) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("key"):
        return query["key"][0]
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, raw = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return raw.strip()
    return None


class WebsocketAuth:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cookie_app = AllowedHostsOriginValidator(AuthMiddlewareStack(inner))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        raw_key = _key_from(scope)
        if raw_key is None:
            return await self.cookie_app(scope, receive, send)
        api_key = await database_sync_to_async(api_key_lookup)(raw_key)
        if api_key is None:
            return await WebsocketDenier()(scope, receive, send)
        scope = dict(scope, api_key=api_key, user=AnonymousUser())
        return await self.inner(scope, receive, send)
