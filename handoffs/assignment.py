"""Who gets a handoff when its team assigns automatically (docs/assignment.md). Pure: plain data
in, a person out; no ORM. `handoffs.services.ownership` loads the people under locks, asks
`choose`, and claims the handoff for whoever it names.

Eligible means: a role that works handoffs, status "available", inside their own working hours
now, below their capacity, and not cooling down after releasing this very handoff. Reps and CSMs
form the pool; leads and directors take auto-assigned work only when a handoff is offered to
their role (a high-value lead offered to the Sales Director), so "available" on a director means
"send me what is offered to me", not "give me the routine queue"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal.choices import AssignmentMode, AvailabilityStatus, Role
from portal.roles import ROLE_PERMISSIONS, WORK_HANDOFFS

# Someone who releases a handoff does not get it straight back from the next sweep.
RELEASE_COOLDOWN = timedelta(minutes=30)

POOL_ROLES = frozenset({Role.REP, Role.CSM})
WORKING_ROLES = frozenset(
    role for role, perms in ROLE_PERMISSIONS.items() if WORK_HANDOFFS in perms
)
AUTO_MODES = frozenset({AssignmentMode.ROUND_ROBIN, AssignmentMode.LEAST_LOADED})

_DAY = 24 * 3600
_WEEK = 7 * _DAY


@dataclass(frozen=True)
class WorkPeriod:
    """A stretch of working hours starting on `weekday` (0 = Monday) in the person's time zone.
    An end at or before the start runs past midnight; equal start and end is a whole day."""

    weekday: int
    starts: time
    ends: time

    @property
    def length_seconds(self) -> int:
        return (_seconds(self.ends) - _seconds(self.starts)) % _DAY or _DAY


@dataclass(frozen=True)
class Person:
    """One team member as the policy sees them."""

    user_id: int
    username: str
    name: str
    role: str
    status: str
    time_zone: str
    periods: tuple[WorkPeriod, ...]
    capacity: int
    active: int  # active handoffs they own, in every team
    last_assigned_at: datetime | None = None


def _seconds(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_time_zone(name: str) -> bool:
    return bool(name) and _zone(name) is not None


def in_working_hours(periods: Iterable[WorkPeriod], time_zone: str, at: datetime) -> bool:
    """Whether `at` falls in one of the periods, read on the person's wall clock. Positions are
    seconds into the local week, so a Sunday 22:00–02:00 period wraps into Monday morning."""
    zone = _zone(time_zone)
    if zone is None:
        return False
    local = at.astimezone(zone)
    now = local.weekday() * _DAY + _seconds(local.time())
    return any(
        (now - (p.weekday * _DAY + _seconds(p.starts))) % _WEEK < p.length_seconds for p in periods
    )


def unavailable_reason(person: Person, at: datetime) -> str | None:
    """Why auto-assignment would pass this person over right now, or None if it would not."""
    if person.role not in WORKING_ROLES:
        return "role does not work handoffs"
    if person.status != AvailabilityStatus.AVAILABLE:
        return AvailabilityStatus(person.status).label.lower()
    if not person.periods:
        return "no working hours set"
    if not in_working_hours(person.periods, person.time_zone, at):
        return "outside working hours"
    if person.active >= person.capacity:
        return f"at capacity ({person.active} of {person.capacity})"
    return None


def cooling_down(releases: Iterable[tuple[int, datetime]], at: datetime) -> frozenset[int]:
    """User ids who gave this handoff back (user id, when) within the cooldown."""
    return frozenset(user_id for user_id, when in releases if at - when < RELEASE_COOLDOWN)


def choose(
    *,
    mode: str,
    people: Sequence[Person],
    at: datetime,
    cursor: int | None = None,
    offered_to_role: str = "",
    exclude: frozenset[int] = frozenset(),
) -> Person | None:
    """The person to give a handoff to, or None to leave it waiting in the pool.

    A handoff offered to a role goes to an eligible member of that role first; only when that
    role has nobody eligible does it go to the pool (reps and CSMs)."""
    if mode not in AUTO_MODES:
        return None
    ready = [p for p in people if p.user_id not in exclude and unavailable_reason(p, at) is None]
    if offered_to_role:
        offered = [p for p in ready if p.role == offered_to_role]
        if offered:
            return _pick(mode, offered, cursor)
    pool = [p for p in ready if p.role in POOL_ROLES]
    return _pick(mode, pool, cursor) if pool else None


def _pick(mode: str, people: list[Person], cursor: int | None) -> Person:
    if mode == AssignmentMode.ROUND_ROBIN:
        return next_in_turn(people, cursor)
    return least_loaded(people)


def next_in_turn(people: Sequence[Person], cursor: int | None) -> Person:
    """Round robin: the first person by user id after the one who had the last turn, wrapping
    round. Keyed on ids, so people joining, leaving or stepping away never reset the order."""
    ordered = sorted(people, key=lambda p: p.user_id)
    if cursor is None:
        return ordered[0]
    return next((p for p in ordered if p.user_id > cursor), ordered[0])


_NEVER = datetime.min.replace(tzinfo=UTC)


def least_loaded(people: Sequence[Person]) -> Person:
    """Fewest active handoffs; a tie goes to whoever has waited longest since their last
    auto-assignment (never assigned counts as longest), then the lower user id."""
    return min(people, key=lambda p: (p.active, p.last_assigned_at or _NEVER, p.user_id))
