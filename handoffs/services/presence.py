"""Presence and the soft reply lock: who has a handoff open, and "Riley is replying…".

Called by the live UI consumer as sockets connect, beat and close, and as people type. Each
change tells the handoff's viewers after commit (portal.realtime.presence_poke_on_commit); they
re-read through handoffs/presence.py. Ephemeral, so not audited: only a reply sent over someone
else's lock is (handoffs/services/replies.py records it on the REPLIED event).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from handoffs.choices import ACTIVE_STATUSES
from handoffs.models import Handoff, HandoffViewer, ReplyLock
from handoffs.payloads import display_name
from handoffs.presence import PRESENCE_TTL, REPLY_LOCK_TTL
from portal.errors import Conflict
from portal.realtime import presence_poke_on_commit
from portal.selectors import user_can_work


class ReplyLocked(Conflict):
    """Someone else is replying: the send waits for the sender to confirm (409 in the API)."""

    def __init__(self, holder: Any) -> None:
        self.holder_name = display_name(holder)
        super().__init__(
            f"{self.holder_name} is replying",
            {"over_lock": [f"{self.holder_name} is replying; confirm to send anyway."]},
        )


def _prune(now: datetime, *, handoff_id: int | None = None) -> None:
    """Forget viewers not heard from within the TTL and expired locks (of one handoff, or of
    all), and tell the viewers of each handoff that lost someone."""
    viewers = HandoffViewer.objects.filter(last_seen__lte=now - PRESENCE_TTL)
    locks = ReplyLock.objects.filter(expires_at__lte=now)
    if handoff_id is not None:
        viewers = viewers.filter(handoff_id=handoff_id)
        locks = locks.filter(handoff_id=handoff_id)
    gone = list(viewers.values_list("id", "handoff_id")) + list(
        locks.values_list("id", "handoff_id")
    )
    if not gone:
        return
    # Delete exactly what was read: a row renewed in between is not anyone's ghost.
    HandoffViewer.objects.filter(
        last_seen__lte=now - PRESENCE_TTL, id__in=[i for i, _ in gone]
    ).delete()
    ReplyLock.objects.filter(expires_at__lte=now, id__in=[i for i, _ in gone]).delete()
    for affected in sorted({h for _, h in gone}):
        presence_poke_on_commit(handoff_id=affected)


@transaction.atomic
def presence_join(*, handoff_id: int, user: Any, channel_name: str) -> None:
    """A socket opened the handoff page (the consumer checked the person may see it)."""
    now = timezone.now()
    _prune(now)  # ghosts anywhere: a page opening is a cheap, regular moment to sweep
    HandoffViewer.objects.update_or_create(
        channel_name=channel_name,
        defaults={"handoff_id": handoff_id, "user": user, "last_seen": now},
        create_defaults={
            "handoff_id": handoff_id,
            "user": user,
            "last_seen": now,
            "joined_at": now,
        },
    )
    presence_poke_on_commit(handoff_id=handoff_id)


@transaction.atomic
def presence_touch(*, handoff_id: int, user: Any, channel_name: str) -> None:
    """The page's heartbeat: still here. Also the periodic refresh that clears this handoff's
    expired viewers and lock, so the others see them go without a disconnect."""
    now = timezone.now()
    _prune(now, handoff_id=handoff_id)
    seen = HandoffViewer.objects.filter(channel_name=channel_name).update(last_seen=now)
    if not seen:  # pruned while the socket stalled: back again
        HandoffViewer.objects.create(
            handoff_id=handoff_id,
            user=user,
            channel_name=channel_name,
            joined_at=now,
            last_seen=now,
        )
        presence_poke_on_commit(handoff_id=handoff_id)


@transaction.atomic
def presence_leave(*, handoff_id: int, channel_name: str) -> None:
    """The socket closed: the person left, and a lock this socket held goes with them (a lock
    taken in another tab of theirs stays)."""
    viewers, _ = HandoffViewer.objects.filter(channel_name=channel_name).delete()
    locks, _ = ReplyLock.objects.filter(handoff_id=handoff_id, channel_name=channel_name).delete()
    if viewers or locks:
        presence_poke_on_commit(handoff_id=handoff_id)


def _may_reply(*, handoff_id: int, user: Any) -> bool:
    """The reply service's own rule: an active handoff nobody else owns, in a team they work."""
    handoff = (
        Handoff.objects.filter(id=handoff_id, status__in=ACTIVE_STATUSES)
        .values("team_id", "assignee_id")
        .first()
    )
    return (
        handoff is not None
        and handoff["assignee_id"] in (None, user.pk)
        and user_can_work(user=user, team_id=handoff["team_id"])
    )


@transaction.atomic
def reply_lock_take(*, handoff_id: int, user: Any, channel_name: str) -> ReplyLock | None:
    """`user` is typing a reply: take the lock, or renew it if it is theirs. Answers the live
    lock afterwards (theirs, or the other person's they did not get); None when `user` may not
    reply at all. A renewal tells nobody (nothing they see changes)."""
    if not _may_reply(handoff_id=handoff_id, user=user):
        return None
    now = timezone.now()
    until = now + REPLY_LOCK_TTL
    fields = {"holder": user, "channel_name": channel_name, "expires_at": until}
    # Race: two people start typing at once. Each statement below only ever takes a lock that
    # is free (none, expired) or already the caller's: the update is a compare-and-swap on the
    # row, and of two inserts the unique handoff index lets one win. The loser reads the winner.
    current = ReplyLock.objects.filter(handoff_id=handoff_id).first()
    if current is None:
        try:
            with transaction.atomic():
                lock = ReplyLock.objects.create(handoff_id=handoff_id, taken_at=now, **fields)
        except IntegrityError:
            return _live(handoff_id, now)
        presence_poke_on_commit(handoff_id=handoff_id)
        return lock
    mine_and_live = current.holder_id == user.pk and current.expires_at > now
    if current.expires_at > now and not mine_and_live:
        return _live(handoff_id, now)
    won = (
        ReplyLock.objects.filter(pk=current.pk)
        .filter(Q(holder=user) | Q(expires_at__lte=now))
        .update(**fields, **({} if mine_and_live else {"taken_at": now}))
    )
    if won and not mine_and_live:
        presence_poke_on_commit(handoff_id=handoff_id)
    return _live(handoff_id, now)


def _live(handoff_id: int, now: datetime) -> ReplyLock | None:
    return (
        ReplyLock.objects.filter(handoff_id=handoff_id, expires_at__gt=now)
        .select_related("holder")
        .first()
    )


@transaction.atomic
def reply_lock_release(*, handoff_id: int, user: Any, channel_name: str | None = None) -> bool:
    """`user` cleared the box, or sent (any of their tabs), or closed the tab that held it."""
    locks = ReplyLock.objects.filter(handoff_id=handoff_id, holder=user)
    if channel_name is not None:
        locks = locks.filter(channel_name=channel_name)
    deleted, _ = locks.delete()
    if deleted:
        presence_poke_on_commit(handoff_id=handoff_id)
    return bool(deleted)
