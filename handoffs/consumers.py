"""Websockets. Consumers authenticate, join their teams' groups and turn pokes into what this
recipient may see, by reading the durable log through selectors. No business logic here."""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer

from handoffs import live
from handoffs.live import CATCH_UP_PAGE as CATCH_UP_PAGE
from handoffs.presence import may_view
from handoffs.selectors import event_log_head, event_log_pruned_through
from handoffs.services.presence import (
    presence_join,
    presence_leave,
    presence_touch,
    reply_lock_release,
    reply_lock_take,
)
from portal.realtime import handoff_group, team_group
from portal.selectors import principal_refresh
from portal.ws_auth import CLOSE_REVOKED, principal_group

# What a handoff page may say over its socket (static/js/presence.js), and how much of it.
MAX_CLIENT_MESSAGE = 1000
MIN_TYPING_INTERVAL = 1.0  # seconds; the page pings every few seconds, a flood is dropped
# How stale a socket's view of its caller's rights may grow when nothing announced a change
# (a permission granted by hand in admin, a key's teams edited): re-read at the next push after.
RIGHTS_RECHECK_SECONDS = 10.0
REFRESH_PRESENCE = object()  # LiveUIConsumer: "re-render this page's presence too"


def _query(scope: dict[str, Any]) -> dict[str, str]:
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {k: v[0] for k, v in parsed.items() if v}


def _principal(scope: dict[str, Any]) -> Any:
    key = scope.get("api_key")
    if key is not None:
        return key
    user = scope.get("user")
    return user if user is not None and user.is_authenticated else None


def _parse_since(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    value = int(raw)  # ValueError → refused
    if value < 0:
        raise ValueError("since must be ≥ 0")
    return value


class _TeamStream:
    """Shared by both consumers: group membership, the caller's rights, and the
    read-the-log-past-last_seq loop.

    Rights are re-read when the services say they changed (`sockets.rights` on the principal's
    group: a membership set or removed) and otherwise at most every RIGHTS_RECHECK_SECONDS, at
    the next push — not before every push: with a busy log, a check per push per socket was
    most of a web process's work. Each push is one trip to the database thread."""

    team_ids: set[int]
    sight: live.Sight
    last_seq: int
    rights_checked_at: float = 0.0

    async def join_teams(self, principal: Any) -> bool:
        """Join the principal's own group (portal/ws_auth.py closes it on deactivation or
        revocation), then its teams'. False: deactivated or revoked since the handshake."""
        self.principal = principal
        self.team_ids = set()
        await self.channel_layer.group_add(principal_group(principal), self.channel_name)  # type: ignore[attr-defined]
        # Re-read after joining: a deactivation that committed before the join is seen here, one
        # committed after it reaches this socket through the group.
        return await self._apply_rights(await database_sync_to_async(_rights)(principal))

    async def sockets_close(self, message: dict[str, Any]) -> None:
        """`sockets.close` on the principal's group: deactivated, revoked, or in no team."""
        await self.close(code=int(message.get("code") or CLOSE_REVOKED))  # type: ignore[attr-defined]

    async def sockets_rights(self, message: dict[str, Any]) -> None:
        """`sockets.rights` on the principal's group: a membership changed; re-read now, then
        read the log: a new team's event may have committed before this socket joined its group."""
        self.rights_checked_at = 0.0
        if await self.rights_fresh() and hasattr(self, "last_seq"):
            await self.push()

    async def _apply_rights(self, rights: tuple[Any, live.Sight] | None) -> bool:
        """Follow the teams' groups of freshly read rights; False: revoked or deactivated."""
        if rights is None:
            return False
        self.principal, self.sight = rights
        team_ids = self.sight.team_ids
        self.rights_checked_at = time.monotonic()
        layer = self.channel_layer  # type: ignore[attr-defined]
        for team_id in team_ids - self.team_ids:
            await layer.group_add(team_group(team_id), self.channel_name)  # type: ignore[attr-defined]
        for team_id in self.team_ids - team_ids:
            await layer.group_discard(team_group(team_id), self.channel_name)  # type: ignore[attr-defined]
        self.team_ids = team_ids
        return True

    def rights_due(self) -> bool:
        return time.monotonic() - self.rights_checked_at >= RIGHTS_RECHECK_SECONDS

    async def rights_fresh(self) -> bool:
        """Re-check the rights if due; False (and the socket closed) once they are lost."""
        if not self.rights_due():
            return True
        if await self._apply_rights(await database_sync_to_async(_rights)(self.principal)):
            return True
        await self.close(code=CLOSE_REVOKED)  # type: ignore[attr-defined]
        return False

    async def push(self) -> None:
        """Send what the log holds past last_seq for this caller — re-checking their rights
        first when due. Read together with every other socket of this process that asked
        meanwhile (_Pushes): one trip to the database thread, one read per set of teams."""
        recheck, rights, payloads = await _pushes().pull(self)
        if recheck and not await self._apply_rights(rights):
            await self.close(code=CLOSE_REVOKED)  # type: ignore[attr-defined]
            return
        for payload in payloads:
            await self.send_payload(payload)

    def pull(self, frames: dict[tuple[frozenset[int], int], live.Frame]) -> Pulled:
        """In the database thread: whether the rights were re-read, and (None when lost) what
        they are now; then the payloads, read with those rights, from the batch's frames."""
        recheck = self.rights_due()
        rights = _rights(self.principal) if recheck else None
        if recheck and rights is None:
            return True, None, []
        principal, sight = rights if rights is not None else (self.principal, self.sight)
        key = (sight.team_ids, self.last_seq)
        if key not in frames:
            frames[key] = live.Frame.read(team_ids=sight.team_ids, after_seq=self.last_seq)
        frame = frames[key]
        self.last_seq = frame.seq
        return recheck, rights, self.payloads(principal, sight, frame)

    def payloads(self, principal: Any, sight: live.Sight, frame: live.Frame) -> list[Any]:
        raise NotImplementedError

    async def send_payload(self, payload: Any) -> None:
        raise NotImplementedError

    async def leave_teams(self) -> None:
        for team_id in getattr(self, "team_ids", set()):
            await self.channel_layer.group_discard(team_group(team_id), self.channel_name)  # type: ignore[attr-defined]
        if getattr(self, "principal", None) is not None:
            await self.channel_layer.group_discard(  # type: ignore[attr-defined]
                principal_group(self.principal),
                self.channel_name,  # type: ignore[attr-defined]
            )


Rights = tuple[Any, live.Sight]  # the principal re-read, and what they may see
Pulled = tuple[bool, Rights | None, list[Any]]


class _Pushes:
    """Pushes asked for at about the same time by the sockets of one process (one event loop),
    read in one batch in the database thread. A poke reaches every rep of a team at once; read
    one socket at a time, 25 reps meant 25 reads of the log and 25 renders in a row, and the
    last rep saw the handoff seconds late under load. Batched, sockets with the same teams
    share one read of the log and the fragments they would see alike (live.Frame). Pushes
    asked for while a batch is being read form the next one."""

    def __init__(self) -> None:
        self.waiting: dict[_TeamStream, asyncio.Future[Pulled]] = {}
        self.task: asyncio.Task[None] | None = None

    async def pull(self, stream: _TeamStream) -> Pulled:
        loop = asyncio.get_running_loop()
        future = self.waiting.get(stream)
        if future is None:
            future = self.waiting[stream] = loop.create_future()
        if self.task is None:
            self.task = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self.waiting:
                await asyncio.sleep(0)  # the other sockets woken by the same poke join in
                batch, self.waiting = self.waiting, {}
                try:
                    pulled = await database_sync_to_async(_pull_batch)(list(batch))
                except Exception as exc:  # the database unreachable: each socket sees it
                    pulled = {stream: exc for stream in batch}
                for stream, future in batch.items():
                    if future.done():  # that socket went away meanwhile
                        continue
                    outcome = pulled[stream]
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self.task = None


def _pull_batch(streams: list[_TeamStream]) -> dict[_TeamStream, Pulled | Exception]:
    frames: dict[tuple[frozenset[int], int], live.Frame] = {}
    pulled: dict[_TeamStream, Pulled | Exception] = {}
    for stream in streams:
        try:
            pulled[stream] = stream.pull(frames)
        except Exception as exc:  # one socket's failure is its own
            pulled[stream] = exc
    return pulled


_PUSHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pushes] = weakref.WeakKeyDictionary()


def _pushes() -> _Pushes:
    loop = asyncio.get_running_loop()
    if loop not in _PUSHES:
        _PUSHES[loop] = _Pushes()
    return _PUSHES[loop]


def _rights(principal: Any) -> Rights | None:
    """The caller re-read and what they may see; None once revoked or deactivated."""
    fresh = principal_refresh(principal)
    if fresh is None:
        return None
    return fresh, live.sight_for(fresh)


class EventStreamConsumer(_TeamStream, AsyncJsonWebsocketConsumer):
    """`/ws/v1/events/?since=<seq>` for programs (API.md "Live events")."""

    async def connect(self) -> None:
        principal = _principal(self.scope)
        if principal is None:
            await self.close(code=4401)
            return
        try:
            since = _parse_since(_query(self.scope).get("since"))
        except ValueError:
            await self.close(code=4400)
            return
        if not await self.join_teams(principal):
            await self.close(code=CLOSE_REVOKED)
            return
        await self.accept()
        head = await database_sync_to_async(event_log_head)()
        if since is None:
            self.last_seq = head
            return
        pruned = await database_sync_to_async(event_log_pruned_through)()
        if since < pruned or since > head:
            # Older than the log keeps, or from another database: the client must reload.
            await self.send_json({"type": "reset", "seq": head})
            self.last_seq = head
            return
        self.last_seq = since
        await self.push()

    async def disconnect(self, code: int) -> None:
        await self.leave_teams()

    async def handoff_changed(self, message: dict[str, Any]) -> None:
        seq = message.get("seq")
        if seq is None or seq <= self.last_seq:
            return  # already sent (pokes that queued up while a push ran cost nothing)
        await self.push()

    def payloads(self, principal: Any, sight: live.Sight, frame: live.Frame) -> list[Any]:
        return [{"seq": e.id, "type": e.type, "handoff": e.payload} for e in frame.events]

    async def send_payload(self, payload: Any) -> None:
        await self.send_json(payload)


class LiveUIConsumer(_TeamStream, AsyncWebsocketConsumer):
    """`/ws/ui/?page=inbox|handoff…&since=<seq>`: the browser's stream of htmx out-of-band
    fragments, rendered for this person.

    On a handoff page it is also that person's presence: it joins the handoff's group (only if
    they may see the handoff), registers them as viewing, and passes the page's heartbeats and
    typing pings to the presence services."""

    presence_handoff: int | None = None
    last_typing: float = 0.0

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        query = _query(self.scope)
        try:
            self.view = live.LiveView.from_query(query)
            since = _parse_since(query.get("since"))
        except ValueError:
            await self.close(code=4400)
            return
        if not await self.join_teams(user):
            await self.close(code=CLOSE_REVOKED)
            return
        await self.accept()
        head = await database_sync_to_async(event_log_head)()
        self.last_seq = head if since is None or since > head else since
        if since is not None and since < head:
            await self.push()
        await self._join_handoff()

    async def disconnect(self, code: int) -> None:
        await self.leave_teams()
        await self._leave_handoff()

    async def _join_handoff(self) -> None:
        handoff_id = self.view.handoff_id if self.view.page == "handoff" else None
        if handoff_id is None:
            return
        if not await database_sync_to_async(may_view)(user=self.principal, handoff_id=handoff_id):
            return  # nothing about it, not even that it exists
        # Group first: the join's own poke then brings this page the others already here.
        await self.channel_layer.group_add(handoff_group(handoff_id), self.channel_name)
        self.presence_handoff = handoff_id
        await database_sync_to_async(presence_join)(
            handoff_id=handoff_id, user=self.principal, channel_name=self.channel_name
        )

    async def _leave_handoff(self) -> None:
        handoff_id, self.presence_handoff = self.presence_handoff, None
        if handoff_id is None:
            return
        await self.channel_layer.group_discard(handoff_group(handoff_id), self.channel_name)
        await database_sync_to_async(presence_leave)(
            handoff_id=handoff_id, channel_name=self.channel_name
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """`{"type": "heartbeat"}`, `{"type": "typing"}` or `{"type": "idle"}` from the page;
        anything else (or from a page that is not a visible handoff) is ignored."""
        handoff_id = self.presence_handoff
        if handoff_id is None or not text_data or len(text_data) > MAX_CLIENT_MESSAGE:
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            return
        kind = message.get("type") if isinstance(message, dict) else None
        who = {"handoff_id": handoff_id, "user": self.principal}
        if kind == "heartbeat":
            # Still theirs to see? A person who lost the team stops showing as a viewer.
            if not await database_sync_to_async(may_view)(**who):
                await self._leave_handoff()
                return
            await database_sync_to_async(presence_touch)(**who, channel_name=self.channel_name)
        elif kind == "typing":
            now = time.monotonic()
            if now - self.last_typing < MIN_TYPING_INTERVAL:
                return
            self.last_typing = now
            await database_sync_to_async(reply_lock_take)(**who, channel_name=self.channel_name)
        elif kind == "idle":
            await database_sync_to_async(reply_lock_release)(**who, channel_name=self.channel_name)

    async def presence_changed(self, message: dict[str, Any]) -> None:
        handoff_id = self.presence_handoff
        if handoff_id is None or message.get("handoff_id") != handoff_id:
            return
        if not await self.rights_fresh():
            return
        html = await database_sync_to_async(live.render_presence)(
            user=self.principal, handoff_id=handoff_id
        )
        if html is None:  # they lost sight of it (a membership went): stop being there
            await self._leave_handoff()
            return
        await self.send(text_data=html)

    async def handoff_changed(self, message: dict[str, Any]) -> None:
        seq = message.get("seq")
        if seq is not None:
            if seq > self.last_seq:  # else already sent: queued-up pokes cost nothing
                await self.push()
            return
        handoff_id = message.get("handoff_id")  # re-render one (a message's delivery status)
        if handoff_id is not None and await self.rights_fresh():
            frame = live.Frame.of(
                {handoff_id: "updated"}, team_ids=self.sight.team_ids, seq=self.last_seq
            )
            render = database_sync_to_async(self.payloads)
            for payload in await render(self.principal, self.sight, frame):
                await self.send_payload(payload)

    def payloads(self, principal: Any, sight: live.Sight, frame: live.Frame) -> list[Any]:
        html = frame.render(user=principal, sight=sight, view=self.view)
        payloads: list[Any] = [html] if html else []
        if self.presence_handoff in frame.changes:
            # Who may reply changes with the owner (the lock of someone who lost it stops
            # counting): refresh "… is replying" too, in a frame of its own.
            payloads.append(REFRESH_PRESENCE)
        return payloads

    async def send_payload(self, payload: Any) -> None:
        if payload is REFRESH_PRESENCE:
            await self.presence_changed({"handoff_id": self.presence_handoff})
        else:
            await self.send(text_data=payload)
