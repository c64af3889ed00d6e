"""Business time: the SLA clock over a calendar (docs/sla.md). Pure: plain values in, UTC
instants out; no ORM and no other app.

A calendar is a time zone, weekly opening periods read on the local wall clock, holidays that
close whole local dates, or 24/7. Periods have the same shape as a person's working hours
(`handoffs.assignment.WorkPeriod`): an end at or before the start runs past midnight, an equal
start and end is the whole day. An instant is *open* when its local wall-clock time falls in a
period and its local date is not a holiday. So across a DST change, wall-clock times the clock
skips are never open, and times it repeats count twice when a period covers them — the business
day is what the office's clock says, however long it really lasts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_library

from handoffs.assignment import WorkPeriod, in_working_hours
from handoffs.choices import SlaTarget

log = logging.getLogger("baton.sla")

__all__ = [
    "ALWAYS_OPEN",
    "Calendar",
    "Clock",
    "NeverOpen",
    "WorkPeriod",
    "add_business_time",
    "business_time_between",
    "holiday_region_problem",
    "is_open",
    "next_opening",
    "overlapping_periods",
    "running_clock",
]

_DAY = timedelta(days=1)
_WEEK_SECONDS = 7 * 24 * 3600
_TICK = timedelta(microseconds=1)
# A calendar with no opening this long after an instant is treated as never opening (a
# misconfiguration: every period removed, or a year of holidays), rather than searched forever.
HORIZON = timedelta(days=400)


class NeverOpen(ValueError):
    """The calendar has no opening within HORIZON of the instant asked about."""


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=256)
def _country_holidays(country: str, subdivision: str, year: int) -> frozenset[date]:
    try:
        found = holiday_library.country_holidays(country, subdiv=subdivision or None, years=year)
    except (NotImplementedError, KeyError, ValueError):
        log.warning("no holidays known for %s/%s; the calendar ignores them", country, subdivision)
        return frozenset()
    return frozenset(found.keys())


@dataclass(frozen=True)
class Calendar:
    """When a team's SLA clock runs. `holidays` are explicit local dates; `holiday_country` (and
    optionally `holiday_subdivision`, e.g. GB / ENG) adds that region's public holidays from the
    `holidays` library. A 24/7 calendar still closes on its holidays, if it lists any."""

    time_zone: str = "UTC"
    periods: tuple[WorkPeriod, ...] = ()
    always_open: bool = False
    holidays: frozenset[date] = frozenset()
    holiday_country: str = ""
    holiday_subdivision: str = ""

    def __post_init__(self) -> None:
        if _zone(self.time_zone) is None:
            raise ValueError(f"unknown time zone {self.time_zone!r}")

    @property
    def zone(self) -> ZoneInfo:
        zone = _zone(self.time_zone)
        assert zone is not None  # checked in __post_init__
        return zone

    @property
    def round_the_clock(self) -> bool:
        """Open at every instant: business time is wall time."""
        return self.always_open and not self.holidays and not self.holiday_country

    @cached_property
    def _by_weekday(self) -> dict[int, tuple[WorkPeriod, ...]]:
        return {d: tuple(p for p in self.periods if p.weekday == d) for d in range(7)}

    def periods_on(self, weekday: int) -> tuple[WorkPeriod, ...]:
        return self._by_weekday[weekday]

    def is_holiday(self, day: date) -> bool:
        if day in self.holidays:
            return True
        return bool(self.holiday_country) and day in _country_holidays(
            self.holiday_country, self.holiday_subdivision, day.year
        )


ALWAYS_OPEN = Calendar(always_open=True)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the SLA clock takes aware datetimes only")
    return at.astimezone(UTC)


# --- the open stretches of a calendar, as UTC intervals -------------------------------------


def _offset(zone: ZoneInfo, at: datetime) -> timedelta:
    offset = at.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _offset_spans(
    zone: ZoneInfo, a: datetime, b: datetime
) -> Iterator[tuple[datetime, datetime, timedelta]]:
    """[a, b) cut where the zone's UTC offset changes, each piece with its offset. Transitions
    fall on whole seconds and are months apart, so comparing both ends of a span of at most a
    day finds them, and a binary search over seconds pins each one down."""
    while a < b:
        offset = _offset(zone, a)
        if _offset(zone, b - _TICK) == offset:
            yield a, b, offset
            return
        lo = int(a.timestamp())  # offset(lo) == offset
        hi = int((b - _TICK).timestamp()) + 1  # offset(hi) != offset
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset(zone, datetime.fromtimestamp(mid, UTC)) == offset:
                lo = mid
            else:
                hi = mid
        change = datetime.fromtimestamp(hi, UTC)
        yield a, change, offset
        a = change


def _local_open(calendar: Calendar, la: datetime, lb: datetime) -> list[tuple[datetime, datetime]]:
    """Open stretches of naive local wall-clock time within [la, lb), merged and in order."""
    pieces: list[tuple[datetime, datetime]] = []
    day = la.date() - _DAY  # yesterday's overnight period may run into today
    while day <= lb.date():
        midnight = datetime.combine(day, time.min)
        if calendar.always_open:
            pieces.append((midnight, midnight + _DAY))
        else:
            for period in calendar.periods_on(day.weekday()):
                starts = datetime.combine(day, period.starts)
                pieces.append((starts, starts + timedelta(seconds=period.length_seconds)))
        day += _DAY
    merged: list[tuple[datetime, datetime]] = []
    for starts, ends in sorted(pieces):
        starts, ends = max(starts, la), min(ends, lb)
        while starts < ends:  # holidays close whole local dates: cut at each midnight
            midnight = datetime.combine(starts.date() + _DAY, time.min)
            piece_end = min(ends, midnight)
            if not calendar.is_holiday(starts.date()):
                if merged and starts <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], piece_end))
                else:
                    merged.append((starts, piece_end))
            starts = piece_end
    return merged


def _open_within(
    calendar: Calendar, a: datetime, b: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """Open stretches within the UTC interval [a, b), in order."""
    if calendar.round_the_clock:
        yield a, b
        return
    for s0, s1, offset in _offset_spans(calendar.zone, a, b):
        la = (s0 + offset).replace(tzinfo=None)
        lb = (s1 + offset).replace(tzinfo=None)
        for x, y in _local_open(calendar, la, lb):
            yield (x - offset).replace(tzinfo=UTC), (y - offset).replace(tzinfo=UTC)


def _stretches(
    calendar: Calendar, start: datetime, until: datetime | None = None
) -> Iterator[tuple[datetime, datetime]]:
    """Open stretches from `start` on (the first clipped to it), a day at a time, up to `until`.
    Without `until` it goes on for as long as the calendar keeps opening; NeverOpen once it has
    been shut for HORIZON."""
    a = start
    last_open = start
    while until is None or a < until:
        b = a + _DAY if until is None else min(a + _DAY, until)
        for x, y in _open_within(calendar, a, b):
            if x < y:
                last_open = y
                yield x, y
        if until is None and b - last_open > HORIZON:
            raise NeverOpen(f"the calendar does not open within {HORIZON.days} days of {start}")
        a = b


# --- the clock -------------------------------------------------------------------------------


def is_open(at: datetime, calendar: Calendar) -> bool:
    """Whether the calendar is open at `at` (the same reading of the wall clock as a person's
    working hours in auto-assignment)."""
    if calendar.round_the_clock:
        return True
    if calendar.is_holiday(_utc(at).astimezone(calendar.zone).date()):
        return False
    return calendar.always_open or in_working_hours(calendar.periods, calendar.time_zone, at)


def next_opening(at: datetime, calendar: Calendar) -> datetime:
    """`at` itself when the calendar is open then, else the moment it next opens."""
    at = _utc(at)
    if calendar.round_the_clock:
        return at
    for x, _y in _stretches(calendar, at):
        return x
    raise NeverOpen("unreachable")  # pragma: no cover - _stretches raises first


def add_business_time(start: datetime, minutes: float, calendar: Calendar) -> datetime:
    """The instant `minutes` of open time after `start` (counting from the next opening when
    `start` is closed). A due time that lands exactly on a closing stays there, rather than
    moving to the next morning."""
    start = _utc(start)
    remaining = timedelta(minutes=minutes)
    if remaining <= timedelta(0):
        return start
    if calendar.round_the_clock:
        return start + remaining
    for x, y in _stretches(calendar, start):
        if y - x >= remaining:
            return x + remaining
        remaining -= y - x
    raise NeverOpen("unreachable")  # pragma: no cover - _stretches raises first


def business_time_between(a: datetime, b: datetime, calendar: Calendar) -> timedelta:
    """Open time within [a, b); zero when b is not after a."""
    a, b = _utc(a), _utc(b)
    if b <= a:
        return timedelta(0)
    if calendar.round_the_clock:
        return b - a
    total = timedelta(0)
    for x, y in _stretches(calendar, a, until=b):
        total += y - x
    return total


# --- which due time is running ---------------------------------------------------------------

FIRST_RESPONSE = SlaTarget.FIRST_RESPONSE.value
NEXT_RESPONSE = SlaTarget.NEXT_RESPONSE.value
RESOLUTION = SlaTarget.RESOLUTION.value


@dataclass(frozen=True)
class Clock:
    """The due time that will breach first, and which target it is."""

    target: str
    due: datetime

    @property
    def label(self) -> str:
        return SlaTarget(self.target).label


def running_clock(
    *,
    first_response_due: datetime,
    first_responded: bool,
    next_response_due: datetime | None,
    resolution_due: datetime | None,
    paused: bool,
) -> Clock | None:
    """The earliest due time still running: the first reply until a person has answered; the
    next reply while the contact waits for one; the resolution unless the clock is paused.
    None when nothing runs (waiting on the contact with the clock paused, say)."""
    running: list[Clock] = []
    if not first_responded:
        running.append(Clock(FIRST_RESPONSE, first_response_due))
    if next_response_due is not None:
        running.append(Clock(NEXT_RESPONSE, next_response_due))
    if resolution_due is not None and not paused:
        running.append(Clock(RESOLUTION, resolution_due))
    return min(running, key=lambda c: c.due, default=None)


# --- checks for the admin ------------------------------------------------------------------


def _week_start(period: WorkPeriod) -> int:
    s = period.starts
    return period.weekday * 24 * 3600 + s.hour * 3600 + s.minute * 60 + s.second


def overlapping_periods(periods: Sequence[WorkPeriod]) -> list[tuple[WorkPeriod, WorkPeriod]]:
    """Pairs of periods that share some time of the week (an overnight Sunday period wraps
    into Monday morning)."""
    found = []
    for i, p in enumerate(periods):
        for q in periods[i + 1 :]:
            gap = (_week_start(q) - _week_start(p)) % _WEEK_SECONDS
            back = (_week_start(p) - _week_start(q)) % _WEEK_SECONDS
            if gap < p.length_seconds or back < q.length_seconds:
                found.append((p, q))
    return found


def holiday_region_problem(country: str, subdivision: str) -> str | None:
    """Why the `holidays` library cannot give this region's holidays, or None if it can."""
    if not country:
        return "Name a country for the subdivision's holidays." if subdivision else None
    supported = holiday_library.list_supported_countries()
    if country not in supported:
        return f"Unknown country {country[:10]!r} for holidays; use a code such as GB, US or DE."
    if subdivision and subdivision not in supported[country]:
        known = ", ".join(supported[country][:12]) or "none"
        return f"{country} has no subdivision {subdivision[:10]!r}; known: {known}."
    return None
