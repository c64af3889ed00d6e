"""Live events: the durable log (portal.models.Event) and pokes over the channel layer.

Services append to the log inside their transaction and the poke leaves only after commit.
Consumers never trust the poke's order: on each poke they read the log past the last seq they
sent, so a late or lost poke cannot reorder or drop events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

from portal.models import Event

log = logging.getLogger(__name__)
_held = threading.local()  # pokes_held(): the pokes a batch holds until its commit

# Any constant works; it only has to be the same in every process.
EVENT_SEQ_LOCK = 0x6261746F6E  # "baton"


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


def handoff_group(handoff_id: int) -> str:
    """The sockets that have one handoff's page open (presence and the reply lock). Consumers
    join it only after checking that their person may see the handoff."""
    return f"handoff.{handoff_id}"


@dataclass(frozen=True)
class NewEvent:
    type: str
    team_id: int
    handoff_id: int
    payload: dict[str, Any]


def lock_event_seq() -> None:
    """Take the transaction-scoped lock that orders the event log (re-entrant, released at
    commit). Services take it BEFORE locking any handoff row, so every writer acquires locks in
    one order — people rows, then this, then handoff and enrollment rows — and two writers can
    never wait on each other in a cycle."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EVENT_SEQ_LOCK])


def events_append(events: Iterable[NewEvent]) -> list[Event]:
    """Write events to the log and poke each team's group after commit.

    Race prevented: two transactions taking ids 10 and 11 and committing as 11 then 10 would let
    a reader see 11, then miss 10 after reconnecting with since=11. Holding a transaction-scoped
    advisory lock while taking ids makes seq order equal commit order (SQLite serialises writers
    already)."""
    rows = [
        Event(type=e.type, team_id=e.team_id, handoff_id=e.handoff_id, payload=e.payload)
        for e in events
    ]
    if not rows:
        return []
    lock_event_seq()
    created = Event.objects.bulk_create(rows)
    latest: dict[int, int] = {}
    for row in created:
        latest[row.team_id] = max(latest.get(row.team_id, 0), row.id or 0)
    for team_id, seq in latest.items():
        poke_on_commit(team_id=team_id, seq=seq)
    return created


def poke_on_commit(*, team_id: int, seq: int | None, handoff_id: int | None = None) -> None:
    """Tell a team's consumers to look at the log (seq) or re-render one handoff (seq None)."""
    message = {"type": "handoff.changed", "seq": seq, "handoff_id": handoff_id}
    group = team_group(team_id)
    held = getattr(_held, "pokes", None)
    if held is not None:  # inside pokes_held(): one poke per team, once it has committed
        if seq is None:
            held[(group, handoff_id)] = message
        elif seq > held.get((group, None), {}).get("seq", 0):
            held[(group, None)] = message
        return
    transaction.on_commit(lambda: group_send(group, message), robust=True)


@contextmanager
def pokes_held() -> Iterator[None]:
    """Around a transaction that appends many events (a batch of signals): the log is read past
    the last seq anyway, so each team needs one poke with the highest seq, not one per event.
    They leave, in one go, when the block ends without an exception, so after its commit; an
    exception drops them with the rolled-back events."""
    outer = getattr(_held, "pokes", None) is None
    if outer:
        _held.pokes = {}
    try:
        yield
    except BaseException:
        if outer:
            _held.pokes = None
        raise
    if outer:
        messages = list(_held.pokes.items())
        _held.pokes = None
        if messages:
            pokes = [(group, message) for (group, _), message in messages]
            if connection.in_atomic_block:  # an outer transaction commits them
                transaction.on_commit(lambda: groups_send(pokes), robust=True)
            else:
                groups_send(pokes)


def presence_poke_on_commit(*, handoff_id: int) -> None:
    """Tell a handoff page's viewers that who is viewing or replying changed. Presence is
    ephemeral (the tables in handoffs/presence.py are its record, not the event log): each
    consumer re-reads it through a selector, so a lost poke only delays a chip."""
    message = {"type": "presence.changed", "handoff_id": handoff_id}
    group = handoff_group(handoff_id)
    transaction.on_commit(lambda: group_send(group, message), robust=True)


def group_send(group: str, message: dict[str, Any]) -> None:
    groups_send([(group, message)])


def groups_send(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Several pokes for one hop into the event loop (each hop costs more than a Redis send)."""
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        for group, message in messages:
            try:
                await layer.group_send(group, message)
            except Exception:  # the log is the record; a lost poke only delays a client
                log.exception("live push to %s failed", group)

    try:
        async_to_sync(send_all)()
    except Exception:
        log.exception("live push failed")
