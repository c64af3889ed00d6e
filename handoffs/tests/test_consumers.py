"""Websockets through the real ASGI stack (`portal.asgi.application`): WebsocketAuth, the Origin
check, session auth and both consumers, over the in-memory channel layer.

Services run in `database_sync_to_async`, so their after-commit pokes reach the consumers on this
test's event loop. Receives wait generously; nothing here asserts on timing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from handoffs import consumers, services
from handoffs.choices import Priority, Trigger
from handoffs.consumers import CATCH_UP_PAGE
from handoffs.models import Handoff
from handoffs.selectors import event_log_head
from journeys.models import HandoffRule
from portal.asgi import application
from portal.choices import Role
from portal.models import ApiKey, Event, EventLogState
from portal.services import api_key_create, api_key_revoke, membership_remove, membership_set
from portal.tasks import event_log_prune

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5  # how long a receive may wait; never a timing assertion
QUIET = 0.5  # how long "nothing arrives" listens
ORIGIN = (b"origin", b"http://testserver")
EVENTS = "/ws/v1/events/"


class Sockets:
    """Opens communicators against the real application and closes every one at teardown."""

    def __init__(self) -> None:
        self.opened: list[WebsocketCommunicator] = []

    def _make(self, path: str, headers: list[tuple[bytes, bytes]]) -> WebsocketCommunicator:
        communicator = WebsocketCommunicator(application, path, headers=headers)
        self.opened.append(communicator)
        return communicator

    async def open(
        self, path: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> WebsocketCommunicator:
        communicator = self._make(path, headers or [])
        accepted, detail = await communicator.connect(timeout=TIMEOUT)
        assert accepted, f"{path} was refused (close code {detail})"
        return communicator

    async def refused(self, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> int:
        """The close code of a handshake that must not be accepted."""
        communicator = self._make(path, headers or [])
        accepted, detail = await communicator.connect(timeout=TIMEOUT)
        assert not accepted, f"{path} was accepted"
        return detail

    async def close_all(self) -> None:
        for communicator in self.opened:
            # A refused or crashed socket is already closed: nothing left to clean up.
            with contextlib.suppress(Exception):
                await communicator.disconnect(timeout=TIMEOUT)


@pytest.fixture
async def ws(transactional_db: Any) -> AsyncIterator[Sockets]:
    sockets = Sockets()
    yield sockets
    await sockets.close_all()
    # The ORM ran in asgiref's worker thread: close that thread's connection before the flush.
    await sync_to_async(connections.close_all)()


# --- helpers (all safe to await from the test's event loop) ---


async def post_signal(send_signal: Callable[..., Any], **kwargs: Any) -> None:
    """Ingest one signal through the public API, as an integration does."""
    response = await database_sync_to_async(send_signal)(**kwargs)
    assert response.status_code == 202, response.content


@database_sync_to_async
def handoff_id_for(external_id: str) -> int:
    return Handoff.objects.get(contact__external_id=external_id).pk


@database_sync_to_async
def claim(handoff_id: int, user: Any) -> None:
    services.handoff_claim(handoff_id=handoff_id, user=user)


@database_sync_to_async
def reply(handoff_id: int, user: Any, body: str) -> None:
    services.handoff_reply(handoff_id=handoff_id, user=user, body=body)


@database_sync_to_async
def head() -> int:
    return event_log_head()


@database_sync_to_async
def cookie_headers(user: Any, origin: bytes | None = b"http://testserver") -> list[Any]:
    """A real session for `user`, as the browser would present it."""
    client = Client()
    client.force_login(user)
    sessionid = client.cookies[settings.SESSION_COOKIE_NAME].value
    headers = [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={sessionid}".encode())]
    if origin is not None:
        headers.append((b"origin", origin))
    return headers


@database_sync_to_async
def success_rule(org: Any) -> HandoffRule:
    """A low NPS score raises a sentiment handoff for the success team."""
    return HandoffRule.objects.create(
        name="Unhappy customer",
        signal_type="nps_submitted",
        condition={"path": "properties.score", "op": "<=", "value": 6},
        trigger=Trigger.SENTIMENT,
        team=org.teams["success"],
        offer_to_role=Role.CSM,
        priority=Priority.HIGH,
        reason_template="NPS score {properties.score}",
    )


def nps(external_id: str, score: int = 2) -> dict[str, Any]:
    return {"external_id": external_id, "type": "nps_submitted", "properties": {"score": score}}


async def receive_until(communicator: WebsocketCommunicator, needle: str, limit: int = 5) -> str:
    """The first text frame containing `needle` (a stream may re-render a page more than once)."""
    seen: list[str] = []
    for _ in range(limit):
        text = await communicator.receive_from(timeout=TIMEOUT)
        if needle in text:
            return text
        seen.append(text)
    pytest.fail(f"no frame contained {needle!r}; got {seen!r}")


async def drain(communicator: WebsocketCommunicator, limit: int = 10) -> None:
    for _ in range(limit):
        if await communicator.receive_nothing(timeout=QUIET):
            return
        await communicator.receive_from(timeout=TIMEOUT)
    pytest.fail("the stream never went quiet")


# --- /ws/v1/events/ for programs ---


async def test_a_reader_key_without_origin_gets_the_created_then_the_updated_event(
    org: Any, reader_key: str, send_signal: Any, ws: Sockets
) -> None:
    events = await ws.open(f"{EVENTS}?key={reader_key}")  # no Origin header at all

    await post_signal(send_signal, external_id="c-1")
    created = await events.receive_json_from(timeout=TIMEOUT)
    assert created["type"] == "handoff.created"
    assert isinstance(created["seq"], int)
    handoff = created["handoff"]
    assert (handoff["team"], handoff["trigger"], handoff["priority"], handoff["status"]) == (
        "sales",
        "high_value",
        "urgent",
        "open",
    )
    assert handoff["assignee"] is None
    assert handoff["contact"]["external_id"] == "c-1"

    riley = org.users["riley"]
    await claim(handoff["id"], riley)
    updated = await events.receive_json_from(timeout=TIMEOUT)
    assert updated["type"] == "handoff.updated"
    assert updated["seq"] > created["seq"]
    assert updated["handoff"]["id"] == handoff["id"]
    assert updated["handoff"]["status"] == "claimed"
    assert updated["handoff"]["assignee"] == {
        "id": riley.pk,
        "username": "riley",
        "name": "Riley Reed",
    }
    assert await events.receive_nothing(timeout=QUIET)

    # API.md: a program sees the same object from GET /handoffs/{id}/ and from the stream.
    @database_sync_to_async
    def fetch() -> Any:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {reader_key}")
        return client.get(f"/api/v1/handoffs/{handoff['id']}/")

    response = await fetch()
    assert response.status_code == 200
    assert response.json() == updated["handoff"]


async def test_the_same_key_works_as_a_bearer_header(
    org: Any, reader_key: str, send_signal: Any, ws: Sockets
) -> None:
    events = await ws.open(EVENTS, headers=[(b"authorization", f"Bearer {reader_key}".encode())])
    await post_signal(send_signal, external_id="c-1")
    assert (await events.receive_json_from(timeout=TIMEOUT))["type"] == "handoff.created"


async def test_reconnecting_with_since_replays_exactly_the_missed_events_then_live_ones(
    org: Any, reader_key: str, send_signal: Any, ws: Sockets
) -> None:
    await post_signal(send_signal, external_id="c-0")  # seen before the client went away
    last_seen = await head()
    for external_id in ("c-1", "c-2", "c-3"):
        await post_signal(send_signal, external_id=external_id)

    events = await ws.open(f"{EVENTS}?key={reader_key}&since={last_seen}")
    missed = [await events.receive_json_from(timeout=TIMEOUT) for _ in range(3)]
    assert [m["handoff"]["contact"]["external_id"] for m in missed] == ["c-1", "c-2", "c-3"]
    assert all(m["type"] == "handoff.created" for m in missed)
    seqs = [m["seq"] for m in missed]
    assert last_seen < seqs[0] < seqs[1] < seqs[2]
    assert await events.receive_nothing(timeout=QUIET)  # exactly those three

    await claim(await handoff_id_for("c-2"), org.users["riley"])
    live = await events.receive_json_from(timeout=TIMEOUT)
    assert live["type"] == "handoff.updated"
    assert live["handoff"]["contact"]["external_id"] == "c-2"
    assert live["seq"] > seqs[-1]


async def test_a_catch_up_longer_than_one_page_arrives_complete_and_in_order(
    org: Any, reader_key: str, ws: Sockets
) -> None:
    count = CATCH_UP_PAGE + 1

    @database_sync_to_async
    def fill_log() -> list[int]:
        sales, success = org.teams["sales"], org.teams["success"]
        rows = [
            Event(
                type="handoff.updated",
                team=sales if i % 2 else success,
                handoff_id=i,
                payload={"id": i},
            )
            for i in range(count)
        ]
        return [row.id for row in Event.objects.bulk_create(rows)]

    ids = await fill_log()
    events = await ws.open(f"{EVENTS}?key={reader_key}&since=0")
    received = [await events.receive_json_from(timeout=TIMEOUT) for _ in range(count)]
    assert [m["seq"] for m in received] == ids
    assert [m["handoff"] for m in received] == [{"id": i} for i in range(count)]
    assert await events.receive_nothing(timeout=QUIET)


async def test_since_equal_to_the_head_replays_nothing_but_live_events_still_arrive(
    org: Any, reader_key: str, send_signal: Any, ws: Sockets
) -> None:
    await post_signal(send_signal, external_id="c-1")
    await post_signal(send_signal, external_id="c-2")
    current = await head()

    events = await ws.open(f"{EVENTS}?key={reader_key}&since={current}")
    assert await events.receive_nothing(timeout=QUIET)

    await post_signal(send_signal, external_id="c-3")
    live = await events.receive_json_from(timeout=TIMEOUT)
    assert live["seq"] > current
    assert live["handoff"]["contact"]["external_id"] == "c-3"


async def test_without_since_nothing_is_replayed(
    org: Any, reader_key: str, send_signal: Any, ws: Sockets
) -> None:
    await post_signal(send_signal, external_id="c-1")
    events = await ws.open(f"{EVENTS}?key={reader_key}")
    assert await events.receive_nothing(timeout=QUIET)


@database_sync_to_async
def age_and_prune(count: int) -> list[int]:
    """Make the oldest `count` events older than retention and prune; returns all event ids."""
    ids = list(Event.objects.order_by("id").values_list("id", flat=True))
    old = timezone.now() - timedelta(days=settings.EVENT_LOG_RETENTION_DAYS + 1)
    Event.objects.filter(id__in=ids[:count]).update(created_at=old)
    assert event_log_prune() == count
    return ids


async def test_since_older_than_the_pruned_log_gets_a_reset_first(
    org: Any, reader_key: str, send_signal: Any, ws: Sockets
) -> None:
    for external_id in ("c-1", "c-2", "c-3"):
        await post_signal(send_signal, external_id=external_id)
    ids = await age_and_prune(2)
    pruned = await database_sync_to_async(lambda: EventLogState.objects.get(pk=1).pruned_through)()
    assert pruned == ids[1]

    events = await ws.open(f"{EVENTS}?key={reader_key}&since={ids[0]}")
    first = await events.receive_json_from(timeout=TIMEOUT)
    assert first["type"] == "reset"
    assert first["seq"] == ids[2]
    assert await events.receive_nothing(timeout=QUIET)  # reset, not a replay of what is left

    await post_signal(send_signal, external_id="c-4")  # live events continue after a reset
    live = await events.receive_json_from(timeout=TIMEOUT)
    assert live["type"] == "handoff.created"
    assert live["seq"] > ids[2]


async def test_since_at_the_pruned_boundary_replays_what_the_log_still_holds(
    org: Any, reader_key: str, send_signal: Any, ws: Sockets
) -> None:
    for external_id in ("c-1", "c-2", "c-3"):
        await post_signal(send_signal, external_id=external_id)
    ids = await age_and_prune(2)

    events = await ws.open(f"{EVENTS}?key={reader_key}&since={ids[1]}")
    replayed = await events.receive_json_from(timeout=TIMEOUT)
    assert replayed["type"] == "handoff.created"
    assert replayed["seq"] == ids[2]
    assert await events.receive_nothing(timeout=QUIET)


async def test_an_up_to_date_client_is_not_reset_after_the_whole_log_aged_out(
    org: Any, reader_key: str, send_signal: Any, ws: Sockets
) -> None:
    """A quiet week prunes every event; a client that saw the last one has missed nothing."""
    for external_id in ("c-1", "c-2"):
        await post_signal(send_signal, external_id=external_id)
    ids = await age_and_prune(2)

    events = await ws.open(f"{EVENTS}?key={reader_key}&since={ids[-1]}")
    if not await events.receive_nothing(timeout=QUIET):
        unexpected = await events.receive_json_from(timeout=TIMEOUT)
        pytest.fail(f"a client that missed nothing (since={ids[-1]}) was sent {unexpected}")


async def test_since_beyond_the_head_gets_a_reset(
    org: Any, reader_key: str, send_signal: Any, ws: Sockets
) -> None:
    await post_signal(send_signal, external_id="c-1")
    current = await head()
    events = await ws.open(f"{EVENTS}?key={reader_key}&since={current + 1000}")
    assert await events.receive_json_from(timeout=TIMEOUT) == {"type": "reset", "seq": current}


@pytest.mark.parametrize("since", ["abc", "-1", "1.5"])
async def test_a_malformed_since_is_refused_with_4400(
    org: Any, reader_key: str, ws: Sockets, since: str
) -> None:
    assert await ws.refused(f"{EVENTS}?key={reader_key}&since={since}") == 4400


async def test_a_key_that_may_not_read_handoffs_connects_but_never_receives_anything(
    org: Any, api_key: str, send_signal: Any, ws: Sockets
) -> None:
    await post_signal(send_signal, external_id="c-1")
    events = await ws.open(f"{EVENTS}?key={api_key}&since=0")
    await post_signal(send_signal, external_id="c-2")
    assert await events.receive_nothing(timeout=QUIET)


async def test_a_key_limited_to_success_never_receives_sales_events(
    org: Any, send_signal: Any, ws: Sockets
) -> None:
    await success_rule(org)

    @database_sync_to_async
    def success_only_key() -> str:
        key, raw = api_key_create(name="success reader", can_read_handoffs=True)
        key.teams.add(org.teams["success"])
        return raw

    events = await ws.open(f"{EVENTS}?key={await success_only_key()}")
    await post_signal(send_signal, external_id="c-sales")
    await post_signal(send_signal, **nps("c-success"))
    message = await events.receive_json_from(timeout=TIMEOUT)
    assert message["handoff"]["team"] == "success"
    assert message["handoff"]["contact"]["external_id"] == "c-success"
    assert await events.receive_nothing(timeout=QUIET)


@pytest.mark.parametrize(
    "key",
    ["bk_000000000000_wrong", "not-a-key", "bk_", "bk_" + "x" * 300],
    ids=["unknown", "garbage", "empty", "too-long"],
)
async def test_a_bad_key_is_refused_at_the_handshake(org: Any, ws: Sockets, key: str) -> None:
    await ws.refused(f"{EVENTS}?key={key}")


@database_sync_to_async
def revoke(raw_key: str) -> None:
    """As the admin's "revoke" action does (it announces the revocation to open sockets)."""
    prefix = raw_key.removeprefix("bk_").split("_", 1)[0]
    assert api_key_revoke(keys=list(ApiKey.objects.filter(prefix=prefix))) == 1


@database_sync_to_async
def revoke_quietly(raw_key: str) -> None:
    """Revoked behind the services' back (by hand in the database): nothing is announced."""
    prefix = raw_key.removeprefix("bk_").split("_", 1)[0]
    assert ApiKey.objects.filter(prefix=prefix).update(revoked_at=timezone.now()) == 1


async def test_a_revoked_key_is_refused_at_the_handshake(
    org: Any, reader_key: str, ws: Sockets
) -> None:
    await revoke(reader_key)
    await ws.refused(f"{EVENTS}?key={reader_key}")


async def test_a_bad_key_is_refused_even_with_a_valid_session_and_origin(
    org: Any, ws: Sockets
) -> None:
    headers = await cookie_headers(org.users["riley"])
    await ws.refused(f"{EVENTS}?key=bk_000000000000_wrong", headers=headers)


async def assert_no_event(communicator: Any) -> None:
    """Nothing arrives, or the server closes the socket: either way no event leaks."""
    if await communicator.receive_nothing(timeout=QUIET):
        return
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close", f"received {output}"


@pytest.mark.parametrize("announced", [True, False], ids=["announced", "quietly"])
async def test_a_key_revoked_while_connected_receives_no_further_events(
    org: Any, reader_key: str, send_signal: Any, ws: Sockets, monkeypatch: Any, announced: bool
) -> None:
    """Sockets re-read their caller's rights when the services announce a change (the admin's
    revoke action), and otherwise at the first push RIGHTS_RECHECK_SECONDS after the last read
    (a revocation by hand in the database) — here, at once."""
    events = await ws.open(f"{EVENTS}?key={reader_key}")
    if announced:
        await revoke(reader_key)
    else:
        monkeypatch.setattr(consumers, "RIGHTS_RECHECK_SECONDS", 0.0)
        await revoke_quietly(reader_key)

    await post_signal(send_signal, external_id="c-1")
    await assert_no_event(events)


async def test_without_a_recheck_due_pushes_do_not_reread_the_callers_rights(
    org: Any, reader_key: str, send_signal: Any, ws: Sockets, monkeypatch: Any
) -> None:
    """The other side of the bargain: between re-checks a push reads the log, not the rights
    (a quiet revocation is only seen once one is due)."""
    monkeypatch.setattr(consumers, "RIGHTS_RECHECK_SECONDS", 3600.0)
    events = await ws.open(f"{EVENTS}?key={reader_key}")
    await revoke_quietly(reader_key)
    await post_signal(send_signal, external_id="c-1")
    assert (await events.receive_json_from(timeout=TIMEOUT))["type"] == "handoff.created"


# --- /ws/v1/events/ for people (session cookie) ---


async def test_people_receive_only_events_about_teams_they_may_see(
    org: Any, send_signal: Any, ws: Sockets
) -> None:
    await success_rule(org)
    riley = await ws.open(EVENTS, headers=await cookie_headers(org.users["riley"]))
    casey = await ws.open(EVENTS, headers=await cookie_headers(org.users["casey"]))
    lee = await ws.open(EVENTS, headers=await cookie_headers(org.users["lee"]))  # all teams

    await post_signal(send_signal, external_id="c-sales")
    for person in (riley, lee):
        message = await person.receive_json_from(timeout=TIMEOUT)
        assert message["type"] == "handoff.created"
        assert message["handoff"]["team"] == "sales"

    await post_signal(send_signal, **nps("c-success"))
    # Casey's first message is her own team's: the sales event never reached her.
    message = await casey.receive_json_from(timeout=TIMEOUT)
    assert message["handoff"]["team"] == "success"
    assert message["handoff"]["contact"]["external_id"] == "c-success"
    assert (await lee.receive_json_from(timeout=TIMEOUT))["handoff"]["team"] == "success"

    sales_id = await handoff_id_for("c-sales")
    await claim(sales_id, org.users["riley"])
    assert (await riley.receive_json_from(timeout=TIMEOUT))["handoff"]["id"] == sales_id
    assert (await lee.receive_json_from(timeout=TIMEOUT))["handoff"]["id"] == sales_id
    assert await casey.receive_nothing(timeout=QUIET)
    assert await riley.receive_nothing(timeout=QUIET)  # and riley never saw the success one


@database_sync_to_async
def leave_team(user: Any, team: Any) -> None:
    membership_remove(user=user, team=team)


async def test_a_person_removed_from_a_team_while_connected_receives_no_more_of_its_events(
    org: Any, send_signal: Any, ws: Sockets
) -> None:
    riley = await ws.open(EVENTS, headers=await cookie_headers(org.users["riley"]))
    await leave_team(org.users["riley"], org.teams["sales"])

    await post_signal(send_signal, external_id="c-1")
    await assert_no_event(riley)


async def test_a_person_added_to_a_team_while_connected_receives_its_events_at_once(
    org: Any, send_signal: Any, ws: Sockets, monkeypatch: Any
) -> None:
    monkeypatch.setattr(consumers, "RIGHTS_RECHECK_SECONDS", 3600.0)  # the announcement does it
    casey = await ws.open(EVENTS, headers=await cookie_headers(org.users["casey"]))  # success
    await database_sync_to_async(membership_set)(
        user=org.users["casey"], team=org.teams["sales"], role=Role.REP
    )

    await post_signal(send_signal, external_id="c-1")
    message = await casey.receive_json_from(timeout=TIMEOUT)
    assert message["handoff"]["team"] == "sales"


async def test_the_inbox_stream_stops_showing_a_team_someone_was_removed_from(
    org: Any, send_signal: Any, ws: Sockets
) -> None:
    path = f"/ws/ui/?page=inbox&view=all&since={await head()}"
    riley = await ws.open(path, headers=await cookie_headers(org.users["riley"]))
    await leave_team(org.users["riley"], org.teams["sales"])

    await post_signal(send_signal, external_id="c-1")
    await assert_no_event(riley)


async def test_a_person_catching_up_with_since_gets_only_their_teams_events(
    org: Any, send_signal: Any, ws: Sockets
) -> None:
    await success_rule(org)
    start = await head()
    await post_signal(send_signal, external_id="c-sales")
    await post_signal(send_signal, **nps("c-success"))

    casey = await ws.open(
        f"{EVENTS}?since={start}", headers=await cookie_headers(org.users["casey"])
    )
    message = await casey.receive_json_from(timeout=TIMEOUT)
    assert message["handoff"]["team"] == "success"
    assert await casey.receive_nothing(timeout=QUIET)


async def test_a_session_from_a_foreign_origin_is_refused(org: Any, ws: Sockets) -> None:
    headers = await cookie_headers(org.users["riley"], origin=b"http://evil.example")
    await ws.refused(EVENTS, headers=headers)
    await ws.refused("/ws/ui/?page=inbox", headers=headers)


async def test_a_session_without_origin_or_key_is_refused(org: Any, ws: Sockets) -> None:
    headers = await cookie_headers(org.users["riley"], origin=None)
    await ws.refused(EVENTS, headers=headers)


async def test_no_session_and_no_key_is_refused_with_4401(org: Any, ws: Sockets) -> None:
    assert await ws.refused(EVENTS, headers=[ORIGIN]) == 4401


# --- /ws/ui/: the browser's stream of htmx fragments ---


async def test_the_inbox_stream_prepends_a_new_handoff_and_offers_it_to_the_director(
    org: Any, send_signal: Any, ws: Sockets
) -> None:
    path = f"/ws/ui/?page=inbox&view=all&since={await head()}"
    riley = await ws.open(path, headers=await cookie_headers(org.users["riley"]))
    sam = await ws.open(path, headers=await cookie_headers(org.users["sam"]))
    casey = await ws.open(path, headers=await cookie_headers(org.users["casey"]))

    await post_signal(send_signal, external_id="c-1")
    handoff_id = await handoff_id_for("c-1")

    html = await riley.receive_from(timeout=TIMEOUT)
    assert 'id="inbox-rows"' in html
    assert 'hx-swap-oob="afterbegin"' in html
    assert f'id="handoff-row-{handoff_id}"' in html
    assert "Ada Lovelace" in html
    assert 'id="toasts"' not in html  # offered to directors, not reps

    html = await sam.receive_from(timeout=TIMEOUT)
    assert 'hx-swap-oob="afterbegin"' in html
    assert "Ada Lovelace" in html
    assert 'id="toasts"' in html
    assert "offered to you" in html

    await claim(handoff_id, org.users["riley"])
    html = await sam.receive_from(timeout=TIMEOUT)
    assert f'id="handoff-row-{handoff_id}"' in html
    assert 'hx-swap-oob="true"' in html
    assert "afterbegin" not in html  # an update replaces the row in place
    assert "Claimed by Riley Reed" in html
    assert 'id="toasts"' not in html

    html = await riley.receive_from(timeout=TIMEOUT)
    assert 'hx-swap-oob="true"' in html
    assert "Claimed by you" in html

    assert await casey.receive_nothing(timeout=QUIET)  # another team's handoff


async def test_the_inbox_stream_catches_up_from_since_on_connect(
    org: Any, send_signal: Any, ws: Sockets
) -> None:
    since = await head()
    await post_signal(send_signal, external_id="c-1")  # while the page was reloading

    riley = await ws.open(
        f"/ws/ui/?page=inbox&view=all&since={since}",
        headers=await cookie_headers(org.users["riley"]),
    )
    html = await riley.receive_from(timeout=TIMEOUT)
    assert 'hx-swap-oob="afterbegin"' in html
    assert "Ada Lovelace" in html


async def test_the_handoff_page_stream_sends_panel_and_conversation_after_a_reply(
    org: Any, send_signal: Any, ws: Sockets
) -> None:
    await post_signal(send_signal, external_id="c-1")
    await post_signal(send_signal, external_id="c-2")
    first, second = await handoff_id_for("c-1"), await handoff_id_for("c-2")
    page = f"/ws/ui/?page=handoff&handoff={first}"
    riley = await ws.open(page, headers=await cookie_headers(org.users["riley"]))
    sam = await ws.open(page, headers=await cookie_headers(org.users["sam"]))

    await reply(first, org.users["riley"], "Happy to help, Ada")
    html = await receive_until(riley, "Happy to help, Ada")
    assert '<section id="handoff-panel"' in html
    assert '<section id="conversation"' in html
    assert '<section class="card" id="handoff-history"' in html
    assert 'id="live-seq"' in html  # the page reconnects from here
    assert html.count('hx-swap-oob="true"') == 4
    assert "Riley Reed, Sales team" in html  # the first human reply is signed

    html = await receive_until(sam, "Happy to help, Ada")
    assert 'id="handoff-panel"' in html
    assert "Claimed by Riley Reed" in html

    await drain(riley)
    await claim(second, org.users["riley"])  # another handoff: not this page's business
    assert await riley.receive_nothing(timeout=QUIET)


async def test_the_handoff_page_of_another_teams_handoff_never_streams_anything(
    org: Any, send_signal: Any, ws: Sockets
) -> None:
    await post_signal(send_signal, external_id="c-1")
    handoff_id = await handoff_id_for("c-1")
    casey = await ws.open(
        f"/ws/ui/?page=handoff&handoff={handoff_id}",
        headers=await cookie_headers(org.users["casey"]),
    )
    await reply(handoff_id, org.users["riley"], "Happy to help, Ada")
    assert await casey.receive_nothing(timeout=QUIET)


async def test_the_ui_stream_is_for_people_only(org: Any, reader_key: str, ws: Sockets) -> None:
    assert await ws.refused(f"/ws/ui/?page=inbox&key={reader_key}") == 4401
    assert await ws.refused("/ws/ui/?page=inbox", headers=[ORIGIN]) == 4401


@pytest.mark.parametrize(
    "query",
    ["page=nope", "page=inbox&view=everything", "page=handoff", "page=handoff&handoff=x"],
)
async def test_a_malformed_ui_stream_query_is_refused_with_4400(
    org: Any, ws: Sockets, query: str
) -> None:
    headers = await cookie_headers(org.users["riley"])
    assert await ws.refused(f"/ws/ui/?{query}", headers=headers) == 4400
