"""Who has a handoff open and who is replying to it: the timings and the reads.

Both live in small tables (`HandoffViewer`, `ReplyLock`), not in a process's memory, so every web
process behind channels-redis sees the same viewers and the reply service can check the lock
under its row lock. Nothing here is a record of truth worth keeping: stale rows are ignored at
once and pruned by the services in handoffs/services/presence.py (docs/assignment.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from handoffs.models import HandoffViewer, ReplyLock
from handoffs.payloads import display_name
from handoffs.selectors import handoffs_visible_to

# The page says "I'm still here" this often (static/js/presence.js reads it from the page) …
HEARTBEAT_SECONDS = 15
# … and a viewer not heard from for three heartbeats is gone (a process died, a laptop slept).
PRESENCE_TTL = timedelta(seconds=3 * HEARTBEAT_SECONDS)
# Typing takes or renews the lock at most this often; the lock lasts REPLY_LOCK_TTL after the
# last renewal, so someone who stops typing (or whose tab died) frees it within that time.
TYPING_PING_SECONDS = 5
REPLY_LOCK_TTL = timedelta(seconds=40)
# Chips shown before "+N more".
MAX_CHIPS = 6


@dataclass(frozen=True)
class Viewer:
    user_id: int
    name: str
    initials: str


@dataclass(frozen=True)
class Presence:
    """What one person's handoff page shows: the others viewing it and who else is replying."""

    viewers: list[Viewer]
    replying: str | None  # the lock holder's name, when it is someone else

    @property
    def chips(self) -> list[Viewer]:
        return self.viewers[:MAX_CHIPS]

    @property
    def more(self) -> int:
        return max(0, len(self.viewers) - MAX_CHIPS)


def initials(user: Any) -> str:
    first, last = (user.first_name or "").strip(), (user.last_name or "").strip()
    if first or last:
        return (first[:1] + last[:1]).upper()
    return (user.username or "?")[:2].upper()


def lock_counts(lock: ReplyLock | None, *, assignee_id: int | None, now: datetime) -> bool:
    """A lock matters while it is live and its holder may still reply: nobody owns the handoff
    yet, or the holder does (someone reassigned away from the holder is not "replying")."""
    return lock is not None and lock.expires_at > now and assignee_id in (None, lock.holder_id)


def viewers_of(
    *, handoff_id: int, exclude_user_id: int | None = None, now: datetime | None = None
) -> list[Viewer]:
    """People with the page open, first arrival first, once each (two tabs are one person)."""
    cutoff = (now or timezone.now()) - PRESENCE_TTL
    rows = (
        HandoffViewer.objects.filter(handoff_id=handoff_id, last_seen__gt=cutoff)
        .exclude(user_id=exclude_user_id)
        .select_related("user")
        .order_by("joined_at", "id")
    )
    seen: dict[int, Viewer] = {}
    for row in rows:
        if row.user_id not in seen:
            seen[row.user_id] = Viewer(
                user_id=row.user_id, name=display_name(row.user), initials=initials(row.user)
            )
    return list(seen.values())


def reply_lock_of(*, handoff_id: int) -> ReplyLock | None:
    return ReplyLock.objects.filter(handoff_id=handoff_id).select_related("holder").first()


def reply_lock_held_by_other(
    *, handoff_id: int, user: Any, assignee_id: int | None, now: datetime | None = None
) -> ReplyLock | None:
    """The lock someone other than `user` holds on the reply, if it still counts."""
    lock = reply_lock_of(handoff_id=handoff_id)
    if lock is None or lock.holder_id == user.pk:
        return None
    return lock if lock_counts(lock, assignee_id=assignee_id, now=now or timezone.now()) else None


def replying_now(*, user: Any, handoff: Any) -> Presence:
    """Just the composer's "… is replying" line, for a handoff already read for `user` (the
    answer to an action re-renders the composer; the chips stay as the socket last sent them).
    One query."""
    lock = reply_lock_held_by_other(
        handoff_id=handoff.pk, user=user, assignee_id=handoff.assignee_id
    )
    return Presence(viewers=[], replying=display_name(lock.holder) if lock else None)


def may_view(*, user: Any, handoff_id: int) -> bool:
    return handoffs_visible_to(principal=user).filter(id=handoff_id).exists()


def presence_for(*, user: Any, handoff_id: int) -> Presence | None:
    """One person's view of a handoff's presence; None when they may not see the handoff
    (their stream then says nothing about it). Three queries."""
    handoff = (
        handoffs_visible_to(principal=user).filter(id=handoff_id).values("assignee_id").first()
    )
    if handoff is None:
        return None
    now = timezone.now()
    lock = reply_lock_held_by_other(
        handoff_id=handoff_id, user=user, assignee_id=handoff["assignee_id"], now=now
    )
    return Presence(
        viewers=viewers_of(handoff_id=handoff_id, exclude_user_id=user.pk, now=now),
        replying=display_name(lock.holder) if lock else None,
    )
