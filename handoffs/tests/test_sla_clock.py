"""The business-time clock (handoffs/sla.py): tables of known answers across lunch breaks,
overnight shifts, holidays, DST changes and 24/7, then properties checked against a
minute-by-minute reference in several time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from handoffs.sla import (
    ALWAYS_OPEN,
    Calendar,
    NeverOpen,
    WorkPeriod,
    add_business_time,
    business_time_between,
    holiday_region_problem,
    is_open,
    next_opening,
    overlapping_periods,
    running_clock,
)

LONDON = "Europe/London"


def weekdays(starts: str, ends: str, days: range = range(5)) -> tuple[WorkPeriod, ...]:
    return tuple(WorkPeriod(d, time.fromisoformat(starts), time.fromisoformat(ends)) for d in days)


OFFICE = Calendar(time_zone=LONDON, periods=weekdays("09:00", "17:30"))
SUPPORT = Calendar(
    time_zone=LONDON,
    periods=weekdays("09:00", "12:30") + weekdays("13:30", "17:30"),
    holiday_country="GB",
    holiday_subdivision="ENG",
)
NIGHTS = Calendar(time_zone=LONDON, periods=weekdays("22:00", "06:00"))
NEW_YORK = Calendar(time_zone="America/New_York", periods=weekdays("09:00", "17:00"))
SUNDAYS = Calendar(time_zone=LONDON, periods=(WorkPeriod(6, time(0), time(0)),))
SATURDAY_NIGHT = Calendar(time_zone=LONDON, periods=(WorkPeriod(5, time(22), time(6)),))
CHRISTMAS_247 = Calendar(
    time_zone=LONDON, always_open=True, holidays=frozenset({date(2026, 12, 25)})
)


def at(text: str, zone: str = LONDON) -> datetime:
    """A local wall-clock time in `zone` as an aware instant."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# 2026: UK clocks go forward on Sun 29 Mar (01:00 GMT → 02:00 BST) and back on Sun 25 Oct;
# US clocks go forward on Sun 8 Mar and back on Sun 1 Nov.
ADD_CASES = [
    # (what, calendar, start, minutes, due)
    ("within the day", OFFICE, at("2026-11-23 10:00"), 15, at("2026-11-23 10:15")),
    ("lands exactly on closing", OFFICE, at("2026-11-20 17:00"), 30, at("2026-11-20 17:30")),
    ("Friday evening into Monday", OFFICE, at("2026-11-20 17:20"), 15, at("2026-11-23 09:05")),
    (
        "raised at night starts next opening",
        OFFICE,
        at("2026-11-24 02:00"),
        60,
        at("2026-11-24 10:00"),
    ),
    ("raised on Saturday", OFFICE, at("2026-11-21 11:00"), 15, at("2026-11-23 09:15")),
    ("across lunch", SUPPORT, at("2026-11-23 12:25"), 15, at("2026-11-23 13:40")),
    ("raised at lunch", SUPPORT, at("2026-11-23 12:45"), 15, at("2026-11-23 13:45")),
    ("one business day", SUPPORT, at("2026-11-23 10:00"), 7.5 * 60, at("2026-11-24 10:00")),
    (
        "over Christmas and Boxing Day (observed)",
        SUPPORT,
        at("2026-12-24 17:15"),
        30,
        at("2026-12-29 09:15"),
    ),
    ("Good Friday and Easter Monday", SUPPORT, at("2026-04-02 17:00"), 60, at("2026-04-07 09:30")),
    ("overnight shift", NIGHTS, at("2026-11-24 05:30"), 60, at("2026-11-24 22:30")),
    ("into the overnight shift", NIGHTS, at("2026-11-23 12:00"), 120, at("2026-11-24 00:00")),
    (
        "the spring-forward night is an hour shorter",
        SATURDAY_NIGHT,
        at("2026-03-28 22:00"),
        7 * 60,
        at("2026-03-29 06:00"),
    ),
    (
        "the fall-back night is an hour longer",
        SATURDAY_NIGHT,
        at("2026-10-24 22:00"),
        9 * 60,
        at("2026-10-25 06:00"),
    ),
    (
        "New York after its clocks went forward",
        NEW_YORK,
        at("2026-03-06 16:30", "America/New_York"),
        60,
        utc("2026-03-09 13:30"),
    ),
    ("24/7 is wall time", ALWAYS_OPEN, utc("2026-11-21 23:50"), 15, utc("2026-11-22 00:05")),
    (
        "24/7 across the UK change",
        ALWAYS_OPEN,
        utc("2026-03-29 00:30"),
        60,
        utc("2026-03-29 01:30"),
    ),
    (
        "24/7 closes on its holiday",
        CHRISTMAS_247,
        at("2026-12-24 23:30"),
        60,
        at("2026-12-26 00:30"),
    ),
    ("zero minutes is the start itself", OFFICE, at("2026-11-21 11:00"), 0, at("2026-11-21 11:00")),
]


@pytest.mark.parametrize(("what", "calendar", "start", "minutes", "due"), ADD_CASES)
def test_add_business_time(
    what: str, calendar: Calendar, start: datetime, minutes: float, due: datetime
):
    assert add_business_time(start, minutes, calendar) == due, what
    assert add_business_time(start, minutes, calendar).tzinfo is UTC


BETWEEN_CASES = [
    (
        "a weekday of the office",
        OFFICE,
        at("2026-11-23 00:00"),
        at("2026-11-24 00:00"),
        timedelta(hours=8.5),
    ),
    (
        "a week of the office",
        OFFICE,
        at("2026-11-23 00:00"),
        at("2026-11-30 00:00"),
        timedelta(hours=42.5),
    ),
    (
        "support loses lunch",
        SUPPORT,
        at("2026-11-23 00:00"),
        at("2026-11-24 00:00"),
        timedelta(hours=7.5),
    ),
    (
        "Christmas week in support",
        SUPPORT,
        at("2026-12-21 00:00"),
        at("2026-12-28 00:00"),
        timedelta(hours=7.5 * 4),
    ),
    (
        "the short Sunday",
        SUNDAYS,
        at("2026-03-29 00:00"),
        at("2026-03-30 00:00"),
        timedelta(hours=23),
    ),
    (
        "the long Sunday",
        SUNDAYS,
        at("2026-10-25 00:00"),
        at("2026-10-26 00:00"),
        timedelta(hours=25),
    ),
    ("a night shift", NIGHTS, at("2026-11-23 23:00"), at("2026-11-24 07:00"), timedelta(hours=7)),
    ("backwards is nothing", OFFICE, at("2026-11-24 10:00"), at("2026-11-23 10:00"), timedelta(0)),
    ("24/7", ALWAYS_OPEN, utc("2026-01-01 00:00"), utc("2026-01-08 00:00"), timedelta(days=7)),
    (
        "24/7 with its holiday",
        CHRISTMAS_247,
        at("2026-12-24 00:00"),
        at("2026-12-27 00:00"),
        timedelta(days=2),
    ),
]


@pytest.mark.parametrize(("what", "calendar", "a", "b", "expected"), BETWEEN_CASES)
def test_business_time_between(
    what: str, calendar: Calendar, a: datetime, b: datetime, expected: timedelta
):
    assert business_time_between(a, b, calendar) == expected, what


OPENING_CASES = [
    ("open now", OFFICE, at("2026-11-23 10:00"), at("2026-11-23 10:00")),
    ("before opening", OFFICE, at("2026-11-23 07:00"), at("2026-11-23 09:00")),
    ("Saturday", OFFICE, at("2026-11-21 10:00"), at("2026-11-23 09:00")),
    ("at closing", OFFICE, at("2026-11-23 17:30"), at("2026-11-24 09:00")),
    ("lunch", SUPPORT, at("2026-11-23 13:00"), at("2026-11-23 13:30")),
    ("bank holiday Monday", SUPPORT, at("2026-08-31 10:00"), at("2026-09-01 09:00")),
    ("first BST Monday", OFFICE, at("2026-03-28 12:00"), utc("2026-03-30 08:00")),
    ("first GMT Monday", OFFICE, at("2026-10-24 12:00"), utc("2026-10-26 09:00")),
    ("night shift", NIGHTS, at("2026-11-23 08:00"), at("2026-11-23 22:00")),
    ("24/7", ALWAYS_OPEN, utc("2026-11-21 03:00"), utc("2026-11-21 03:00")),
]


@pytest.mark.parametrize(("what", "calendar", "moment", "opening"), OPENING_CASES)
def test_next_opening(what: str, calendar: Calendar, moment: datetime, opening: datetime):
    assert next_opening(moment, calendar) == opening, what
    assert is_open(moment, calendar) == (opening == moment), what


def test_a_calendar_that_never_opens_says_so_instead_of_searching_forever():
    closed = Calendar(time_zone=LONDON)
    with pytest.raises(NeverOpen):
        add_business_time(utc("2026-11-21 10:00"), 15, closed)
    with pytest.raises(NeverOpen):
        next_opening(utc("2026-11-21 10:00"), closed)
    assert business_time_between(utc("2026-11-21"), utc("2026-11-28"), closed) == timedelta(0)


def test_naive_datetimes_and_unknown_zones_are_refused():
    with pytest.raises(ValueError, match="aware"):
        add_business_time(datetime(2026, 11, 21, 10), 15, OFFICE)
    with pytest.raises(ValueError, match="time zone"):
        Calendar(time_zone="Mars/Olympus_Mons")


def test_overlapping_periods_are_found_including_across_midnight_and_the_week_end():
    lunch_clash = (WorkPeriod(0, time(9), time(12, 30)), WorkPeriod(0, time(12), time(14)))
    assert overlapping_periods(lunch_clash) == [lunch_clash]
    wraps = (WorkPeriod(6, time(22), time(6)), WorkPeriod(0, time(5), time(9)))
    assert overlapping_periods(wraps) == [wraps]
    whole_day = (WorkPeriod(2, time(0), time(0)), WorkPeriod(2, time(15), time(16)))
    assert overlapping_periods(whole_day) == [whole_day]
    fine = weekdays("09:00", "12:30") + weekdays("13:30", "17:30") + weekdays("22:00", "06:00")
    assert overlapping_periods(fine) == []
    touching = (WorkPeriod(0, time(9), time(12)), WorkPeriod(0, time(12), time(13)))
    assert overlapping_periods(touching) == []


def test_holiday_regions_are_checked_against_the_library():
    assert holiday_region_problem("GB", "ENG") is None
    assert holiday_region_problem("", "") is None
    assert "Unknown country 'XX'" in (holiday_region_problem("XX", "") or "")
    assert "no subdivision 'ZZZ'" in (holiday_region_problem("GB", "ZZZ") or "")
    assert "Name a country" in (holiday_region_problem("", "ENG") or "")


def test_the_running_clock_is_the_earliest_due_still_running():
    t = utc("2026-11-23 10:00")
    h = timedelta(hours=1)
    kw = {"first_response_due": t, "next_response_due": None, "resolution_due": t + 5 * h}
    assert running_clock(first_responded=False, paused=False, **kw).target == "first_response"
    assert running_clock(first_responded=True, paused=False, **kw).target == "resolution"
    assert running_clock(first_responded=True, paused=True, **kw) is None
    kw["next_response_due"] = t + 2 * h
    clock = running_clock(first_responded=True, paused=False, **kw)
    assert (clock.target, clock.due, clock.label) == ("next_response", t + 2 * h, "Next reply")


# --- properties against a minute-by-minute reference ------------------------------------------

ZONES = [
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "America/Santiago",
    "Australia/Lord_Howe",
]
# Days around each zone's 2026 changes (Santiago's happen at local midnight; Lord Howe moves
# its clocks by half an hour).
CHANGES = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 9, 6),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
]
MINUTE = timedelta(minutes=1)


def reference_open(moment: datetime, calendar: Calendar) -> bool:
    """Written apart from the code under test: read the wall clock, look the minute up."""
    local = moment.astimezone(ZoneInfo(calendar.time_zone))
    if calendar.is_holiday(local.date()):
        return False
    if calendar.always_open:
        return True
    week = 7 * 24 * 60
    now = local.weekday() * 24 * 60 + local.hour * 60 + local.minute
    for p in calendar.periods:
        start = p.weekday * 24 * 60 + p.starts.hour * 60 + p.starts.minute
        length = ((p.ends.hour * 60 + p.ends.minute) - (p.starts.hour * 60 + p.starts.minute)) % (
            24 * 60
        ) or 24 * 60
        if (now - start) % week < length:
            return True
    return False


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    zone = draw(st.sampled_from(ZONES))
    always = draw(st.booleans()) and draw(st.booleans())
    periods = []
    # Every 2026 change falls on a Sunday: weigh the periods towards the weekend around it.
    weekday = st.one_of(st.sampled_from([5, 6, 6, 0]), st.integers(0, 6))
    for _ in range(draw(st.integers(0 if always else 1, 8))):
        start = draw(
            st.one_of(st.sampled_from([0, 30, 60, 90, 120, 150, 180]), st.integers(0, 24 * 60 - 1))
        )
        length = draw(
            st.sampled_from(
                [15, 60, 150, 210, 510, 480, 720, 24 * 60, draw(st.integers(1, 24 * 60))]
            )
        )
        ends = (start + length) % (24 * 60)
        periods.append(
            WorkPeriod(draw(weekday), time(start // 60, start % 60), time(ends // 60, ends % 60))
        )
    days = [c + timedelta(days=k) for c in CHANGES for k in (-1, 0, 1)]
    holidays = frozenset(draw(st.lists(st.sampled_from(days), max_size=3)))
    return Calendar(time_zone=zone, periods=tuple(periods), always_open=always, holidays=holidays)


@st.composite
def starts(draw: st.DrawFn) -> datetime:
    day = draw(st.sampled_from(CHANGES))
    minutes = draw(st.integers(-3 * 24 * 60, 3 * 24 * 60))
    return datetime.combine(day, time(0), tzinfo=UTC) + minutes * MINUTE


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(calendar=calendars(), start=starts(), minutes=st.integers(0, 4 * 24 * 60))
def test_business_time_between_counts_the_open_minutes(
    calendar: Calendar, start: datetime, minutes: int
):
    end = start + minutes * MINUTE
    expected = sum(reference_open(start + k * MINUTE, calendar) for k in range(minutes))
    assert business_time_between(start, end, calendar) == expected * MINUTE


@PROPERTY
@given(calendar=calendars(), start=starts(), minutes=st.integers(1, 2 * 24 * 60))
def test_add_business_time_ends_on_the_nth_open_minute(
    calendar: Calendar, start: datetime, minutes: int
):
    moment, counted = start, 0
    while counted < minutes:
        counted += reference_open(moment, calendar)
        moment += MINUTE
        if moment - start > timedelta(days=30):
            reject()  # opens too rarely for the reference walk: draw another
    due = add_business_time(start, minutes, calendar)
    assert due == moment
    assert business_time_between(start, due, calendar) == minutes * MINUTE


@PROPERTY
@given(calendar=calendars(), start=starts())
def test_next_opening_is_the_first_open_minute_and_is_open_agrees(
    calendar: Calendar, start: datetime
):
    moment = start
    while not reference_open(moment, calendar):
        moment += MINUTE
        if moment - start > timedelta(days=30):
            reject()  # opens too rarely for the reference walk: draw another
    assert next_opening(start, calendar) == moment
    assert is_open(start, calendar) == reference_open(start, calendar)
