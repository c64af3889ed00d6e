"""Who is on the other end of a websocket, and how their sockets are closed when they may no
longer be there.

- Programs authenticate with an API key (`?key=` or `Authorization: Bearer`) and need send no
  Origin: a key is a bearer credential, never an ambient one a foreign page could borrow.
- Browsers authenticate with the session cookie, which any page the person visits could make
  their browser send: so a cookie socket must carry an Origin of this site — the Host it
  connected to, a host in ALLOWED_HOSTS (never by `*`), or one of CSRF_TRUSTED_ORIGINS. A cookie
  socket with no Origin at all is refused too: every browser sends one, and a program should
  use a key. Refusals are logged to `baton.security`.

Each socket also joins its principal's own group (`user.<id>` / `apikey.<id>`); deactivating a
person, removing their last membership or revoking a key announces `sockets.close` there after
commit, and every open socket of theirs closes at once (portal/services.py). Setting or removing
a membership announces `sockets.rights`: each socket re-reads the teams it may see."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http.request import split_domain_port, validate_host

from portal.api_auth import api_key_lookup
from portal.models import ApiKey
from portal.realtime import group_send

security_log = logging.getLogger("baton.security")

SOCKETS_CLOSE = "sockets.close"
SOCKETS_RIGHTS = "sockets.rights"
CLOSE_REVOKED = 4401  # the person was deactivated or the key revoked
CLOSE_NO_TEAMS = 4403  # the person is no longer a member of any team


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


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1").strip()
    return None


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]  # as Django's own get_host()
    return [h for h in hosts if h != "*"]  # "*" would let any site in


def origin_refusal(scope: dict[str, Any]) -> str | None:
    """None when a cookie socket's Origin is this site's, else why not."""
    origin = _header(scope, b"origin")
    if not origin:
        return "no Origin header (browsers send one; programs use an API key)"
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return None
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"Origin {origin[:100]!r} is not a web origin"
    host = _header(scope, b"host")
    if host and parts.netloc.lower() == host.lower() and "*" in settings.ALLOWED_HOSTS:
        return None  # same origin as the Host it connected to (ALLOWED_HOSTS = *)
    hostname, _port = split_domain_port(parts.netloc.lower())
    if hostname and validate_host(hostname, _allowed_hosts()):
        return None
    return f"Origin {origin[:100]!r} is not an allowed host"


def principal_group(principal: Any) -> str:
    """The group every open socket of one key or one person joins."""
    if isinstance(principal, ApiKey):
        return f"apikey.{principal.pk}"
    return f"user.{principal.pk}"


def _announce_on_commit(principal: Any, message: dict[str, Any]) -> None:
    group = principal_group(principal)
    transaction.on_commit(lambda: group_send(group, message), robust=True)


def sockets_close_on_commit(*, principal: Any, code: int, reason: str) -> None:
    """After commit, close every open socket of `principal` (each consumer closes itself)."""
    _announce_on_commit(principal, {"type": SOCKETS_CLOSE, "code": code, "reason": reason})


def sockets_recheck_on_commit(*, principal: Any) -> None:
    """After commit, make every open socket of `principal` re-read what it may see (a membership
    was set or removed): joining a new team's stream, leaving a lost one's, at once."""
    _announce_on_commit(principal, {"type": SOCKETS_RIGHTS})


class WebsocketAuth:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cookie_app = AuthMiddlewareStack(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        raw_key = _key_from(scope)
        if raw_key is None:
            refused = origin_refusal(scope)
            if refused is not None:
                security_log.info("denied websocket %s: %s", scope.get("path"), refused)
                return await WebsocketDenier()(scope, receive, send)
            return await self.cookie_app(scope, receive, send)
        api_key = await database_sync_to_async(api_key_lookup)(raw_key)
        if api_key is None:
            security_log.info("denied websocket %s: invalid or revoked key", scope.get("path"))
            return await WebsocketDenier()(scope, receive, send)
        scope = dict(scope, api_key=api_key, user=AnonymousUser())
        return await self.inner(scope, receive, send)
