"""Websockets. Consumers authenticate, join their teams' groups and turn pokes into what this
recipient may see, by reading the durable log through selectors. No business logic here."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer

from handoffs import live
from handoffs.presence import may_view
from handoffs.selectors import event_log_head, event_log_pruned_through, events_after
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

CATCH_UP_PAGE = 500
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
        first when due — in one trip to the database thread."""
        recheck = self.rights_due()
        rights, payloads = await database_sync_to_async(self._pull)(recheck)
        if recheck and not await self._apply_rights(rights):
            await self.close(code=CLOSE_REVOKED)  # type: ignore[attr-defined]
            return
        for payload in payloads:
            await self.send_payload(payload)

    def _pull(self, recheck: bool) -> tuple[tuple[Any, live.Sight] | None, list[Any]]:
        """In the database thread: (the re-read rights, or None when not re-checked or lost;
        the payloads to send, read with the rights just read)."""
        rights = _rights(self.principal) if recheck else None
        if recheck and rights is None:
            return None, []
        principal, sight = rights if rights is not None else (self.principal, self.sight)
        return rights, self.payloads(principal, sight, self.read_log(sight.team_ids))

    def payloads(self, principal: Any, sight: live.Sight, events: list[Any]) -> list[Any]:
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

    def read_log(self, team_ids: set[int]) -> list[Any]:
        """In the database thread: every event of these teams past last_seq, a page at a time."""
        events = []
        while True:
            page = events_after(team_ids=team_ids, after_seq=self.last_seq, limit=CATCH_UP_PAGE)
            events.extend(page)
            if page:
                self.last_seq = page[-1].id
            if len(page) < CATCH_UP_PAGE:
                return events


def _rights(principal: Any) -> tuple[Any, live.Sight] | None:
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

    def payloads(self, principal: Any, sight: live.Sight, events: list[Any]) -> list[Any]:
        return [{"seq": e.id, "type": e.type, "handoff": e.payload} for e in events]

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
            changes = {handoff_id: "updated"}
            render = database_sync_to_async(self.rendered)
            for payload in await render(self.principal, self.sight, changes):
                await self.send_payload(payload)

    def payloads(self, principal: Any, sight: live.Sight, events: list[Any]) -> list[Any]:
        changes: dict[int, str] = {}
        for event in events:
            created = event.type == "handoff.created" or changes.get(event.handoff_id) == "created"
            changes[event.handoff_id] = "created" if created else "updated"
        return self.rendered(principal, sight, changes) if changes else []

    def rendered(self, principal: Any, sight: live.Sight, changes: dict[int, str]) -> list[Any]:
        """In the database thread: the fragments for these changes, and — when this page's
        handoff is among them — a note to refresh its presence too (who may reply changes with
        the owner), sent in a frame of its own."""
        html = live.render_changes(
            user=principal, view=self.view, changes=changes, seq=self.last_seq, sight=sight
        )
        payloads: list[Any] = [html] if html else []
        if self.presence_handoff in changes:
            payloads.append(REFRESH_PRESENCE)
        return payloads

    async def send_payload(self, payload: Any) -> None:
        if payload is REFRESH_PRESENCE:
            await self.presence_changed({"handoff_id": self.presence_handoff})
        else:
            await self.send(text_data=payload)
