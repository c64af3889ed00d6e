"""Websocket handshakes and their life: a cookie socket must come from this site's Origin (and
one with no Origin is refused: browsers always send it, programs use a key); a key socket needs
none; deactivating a person, removing their last membership or revoking a key closes their open
sockets at once, through the in-memory layer and through real Redis."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connections
from django.test import Client

from handoffs.tests.test_consumers import EVENTS, QUIET, TIMEOUT, Sockets, cookie_headers
from portal.models import ApiKey
from portal.services import api_key_create, membership_remove, user_set_active
from portal.ws_auth import CLOSE_NO_TEAMS, CLOSE_REVOKED

pytestmark = pytest.mark.django_db(transaction=True)

UI = "/ws/ui/?page=inbox"
COOKIE_PATHS = [EVENTS, UI]


@pytest.fixture
async def ws(transactional_db: Any) -> AsyncIterator[Sockets]:
    sockets = Sockets()
    yield sockets
    await sockets.close_all()
    await sync_to_async(connections.close_all)()


async def closed_with(communicator: Any) -> int:
    """The close code the server sent (an accepted socket being closed by the server)."""
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close", output
    return output["code"]


# --- Origin --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", COOKIE_PATHS)
@pytest.mark.parametrize(
    "origin",
    [
        b"http://evil.example",
        b"https://testserver.evil.example",
        b"null",  # a sandboxed iframe or a file:// page
        b"file://",
        b"chrome-extension://abcdef",
    ],
)
async def test_a_cookie_socket_from_a_foreign_origin_is_refused_and_logged(
    org: Any, ws: Sockets, path: str, origin: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    headers = await cookie_headers(org.users["riley"], origin=origin)

    with caplog.at_level(logging.INFO, logger="baton.security"):
        await ws.refused(path, headers)

    assert any("denied websocket" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("path", COOKIE_PATHS)
async def test_a_cookie_socket_without_origin_is_refused(org: Any, ws: Sockets, path: str) -> None:
    """Decided: every browser sends Origin on a websocket; a program with someone's cookie and no
    Origin is not a browser, and must use an API key instead."""
    await ws.refused(path, await cookie_headers(org.users["riley"], origin=None))


@pytest.mark.parametrize("path", COOKIE_PATHS)
async def test_a_cookie_socket_from_this_site_is_accepted(org: Any, ws: Sockets, path: str) -> None:
    await ws.open(path, await cookie_headers(org.users["riley"]))


async def test_a_key_socket_with_no_origin_is_accepted(org: Any, ws: Sockets, reader_key: str):
    await ws.open(f"{EVENTS}?key={reader_key}")
    await ws.open(EVENTS, [(b"authorization", f"Bearer {reader_key}".encode())])


async def test_a_csrf_trusted_origin_is_accepted(org: Any, ws: Sockets, settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://portal.example.com"]
    headers = await cookie_headers(org.users["riley"], origin=b"https://portal.example.com")

    await ws.open(UI, headers)


async def test_allowed_hosts_star_still_refuses_other_sites(
    org: Any, ws: Sockets, settings: Any
) -> None:
    """ALLOWED_HOSTS=* accepts any Host, but a cookie socket must still be same-origin."""
    settings.ALLOWED_HOSTS = ["*"]
    riley = org.users["riley"]
    foreign = await cookie_headers(riley, origin=b"https://evil.example")
    same = await cookie_headers(riley, origin=b"https://baton.example.com")

    await ws.refused(UI, [*foreign, (b"host", b"baton.example.com")])
    await ws.open(UI, [*same, (b"host", b"baton.example.com")])


async def test_a_deactivated_persons_session_is_refused_at_the_handshake(
    org: Any, ws: Sockets
) -> None:
    riley = org.users["riley"]
    headers = await cookie_headers(riley)
    await database_sync_to_async(user_set_active)(user=riley, active=False)

    assert await ws.refused(UI, headers) == 4401


# --- closing the sockets of people and keys who may no longer be there ---------------------------


async def test_deactivating_a_person_closes_every_socket_of_theirs_and_only_theirs(
    org: Any, ws: Sockets
) -> None:
    riley, sam = org.users["riley"], org.users["sam"]
    events = await ws.open(EVENTS, await cookie_headers(riley))
    inbox = await ws.open(UI, await cookie_headers(riley))
    other = await ws.open(UI, await cookie_headers(sam))

    await database_sync_to_async(user_set_active)(user=riley, active=False, by=sam)

    assert await closed_with(events) == CLOSE_REVOKED
    assert await closed_with(inbox) == CLOSE_REVOKED
    assert await other.receive_nothing(timeout=QUIET)


@database_sync_to_async
def untick_active_in_admin(user: Any) -> int:
    admin_user = type(user).objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        f"/admin/auth/user/{user.pk}/change/",
        {
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": "",
            # "is_active" left out: the box is unticked
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        },
    )
    return response.status_code


async def test_unticking_active_in_admin_closes_the_persons_sockets(org: Any, ws: Sockets):
    riley = org.users["riley"]
    inbox = await ws.open(UI, await cookie_headers(riley))

    assert await untick_active_in_admin(riley) == 302

    assert await closed_with(inbox) == CLOSE_REVOKED
    await database_sync_to_async(riley.refresh_from_db)()
    assert riley.is_active is False


async def test_removing_the_last_membership_closes_the_sockets(org: Any, ws: Sockets) -> None:
    riley = org.users["riley"]
    inbox = await ws.open(UI, await cookie_headers(riley))

    await database_sync_to_async(membership_remove)(user=riley, team=org.teams["sales"])

    assert await closed_with(inbox) == CLOSE_NO_TEAMS


async def test_removing_one_of_several_memberships_keeps_the_socket_open(org: Any, ws: Sockets):
    lee = org.users["lee"]  # a leader of every team
    inbox = await ws.open(UI, await cookie_headers(lee))

    await database_sync_to_async(membership_remove)(user=lee, team=org.teams["sales"])

    assert await inbox.receive_nothing(timeout=QUIET)


@database_sync_to_async
def revoke_in_admin(key: ApiKey, user: Any) -> int:
    client = Client()
    client.force_login(type(user).objects.create_superuser("root", "root@example.com", "pw"))
    response = client.post(
        "/admin/portal/apikey/",
        {"action": "revoke", "_selected_action": [str(key.pk)]},
    )
    return response.status_code


async def test_revoking_a_key_in_admin_closes_its_sockets(
    org: Any, ws: Sockets, reader_key: str
) -> None:
    _, other_key = await database_sync_to_async(api_key_create)(
        name="other", can_read_handoffs=True
    )
    events = await ws.open(f"{EVENTS}?key={reader_key}")
    other = await ws.open(f"{EVENTS}?key={other_key}")
    key = await database_sync_to_async(ApiKey.objects.get)(name="test reader")

    assert await revoke_in_admin(key, org.users["riley"]) == 302

    assert await closed_with(events) == CLOSE_REVOKED
    assert await other.receive_nothing(timeout=QUIET)
    await ws.refused(f"{EVENTS}?key={reader_key}")


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis)")
async def test_deactivation_closes_sockets_through_real_redis(
    org: Any, ws: Sockets, settings: Any
) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]], "prefix": "baton-test-ws-security"},
        }
    }
    riley = org.users["riley"]
    inbox = await ws.open(UI, await cookie_headers(riley))
    events = await ws.open(EVENTS, await cookie_headers(riley))

    await database_sync_to_async(user_set_active)(user=riley, active=False)

    assert await closed_with(inbox) == CLOSE_REVOKED
    assert await closed_with(events) == CLOSE_REVOKED
