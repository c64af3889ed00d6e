"""The assignment policy, table-driven and without a database: who is eligible when (status,
working hours across time zones and midnight, capacity, roles), round robin's order, least
loaded's choice, offers to a role, and the release cooldown."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handoffs.assignment import (
    RELEASE_COOLDOWN,
    Person,
    WorkPeriod,
    choose,
    cooling_down,
    in_working_hours,
    least_loaded,
    next_in_turn,
    unavailable_reason,
)

MON, TUE, WED, SUN = 0, 1, 2, 6
WEEKDAYS_9_TO_5 = tuple(WorkPeriod(d, time(9), time(17)) for d in range(5))
ALL_WEEK = tuple(WorkPeriod(d, time(0), time(0)) for d in range(7))
# Monday 2026-11-23; November: London is UTC+0, New York UTC-5, Tokyo UTC+9.
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


def person(user_id: int = 1, **changes: object) -> Person:
    base = Person(
        user_id=user_id,
        username=f"u{user_id}",
        name=f"U{user_id}",
        role="rep",
        status="available",
        time_zone="UTC",
        periods=ALL_WEEK,
        capacity=5,
        active=0,
    )
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("periods", "zone", "moment", "inside"),
    [
        (WEEKDAYS_9_TO_5, "UTC", at(MON, 9), True),  # the start is in
        (WEEKDAYS_9_TO_5, "UTC", at(MON, 16, 59), True),
        (WEEKDAYS_9_TO_5, "UTC", at(MON, 17), False),  # the end is out
        (WEEKDAYS_9_TO_5, "UTC", at(MON, 8, 59), False),
        (WEEKDAYS_9_TO_5, "UTC", at(5, 12), False),  # Saturday
        # The person's wall clock, not the server's.
        (WEEKDAYS_9_TO_5, "America/New_York", at(MON, 13), False),  # 08:00 in New York
        (WEEKDAYS_9_TO_5, "America/New_York", at(MON, 14), True),  # 09:00 in New York
        (WEEKDAYS_9_TO_5, "America/New_York", at(MON, 21, 59), True),  # 16:59 in New York
        (WEEKDAYS_9_TO_5, "America/New_York", at(4, 21, 30), True),  # Friday 16:30 there
        (WEEKDAYS_9_TO_5, "America/New_York", at(5, 1), False),  # Friday 20:00 there
        (WEEKDAYS_9_TO_5, "Asia/Tokyo", at(MON, 0), True),  # Monday 09:00 in Tokyo
        (WEEKDAYS_9_TO_5, "Asia/Tokyo", at(SUN, 23), False),  # Monday 08:00 in Tokyo
        (WEEKDAYS_9_TO_5, "Asia/Tokyo", at(4, 8), False),  # Friday 17:00 in Tokyo
        # Past midnight: Monday 22:00–06:00 covers Monday night and Tuesday early morning.
        ((WorkPeriod(MON, time(22), time(6)),), "UTC", at(MON, 23, 30), True),
        ((WorkPeriod(MON, time(22), time(6)),), "UTC", at(TUE, 5, 59), True),
        ((WorkPeriod(MON, time(22), time(6)),), "UTC", at(TUE, 6), False),
        ((WorkPeriod(MON, time(22), time(6)),), "UTC", at(MON, 3), False),  # Monday early is not
        # Sunday night wraps into Monday morning, across the week's end.
        ((WorkPeriod(SUN, time(20), time(2)),), "UTC", at(MON, 1), True),
        ((WorkPeriod(SUN, time(20), time(2)),), "UTC", at(7, 1), True),  # next Monday, too
        ((WorkPeriod(SUN, time(20), time(2)),), "UTC", at(MON, 2), False),
        # Ending at midnight, and the whole day.
        ((WorkPeriod(MON, time(18), time(0)),), "UTC", at(MON, 23, 59), True),
        ((WorkPeriod(MON, time(18), time(0)),), "UTC", at(TUE, 0), False),
        ((WorkPeriod(WED, time(0), time(0)),), "UTC", at(WED, 0), True),
        ((WorkPeriod(WED, time(0), time(0)),), "UTC", at(WED, 23, 59), True),
        ((WorkPeriod(WED, time(0), time(0)),), "UTC", at(TUE, 23, 59), False),
        # Two periods on one day: the lunch gap is out.
        (
            (WorkPeriod(MON, time(9), time(12)), WorkPeriod(MON, time(13), time(17))),
            "UTC",
            at(MON, 12, 30),
            False,
        ),
        (
            (WorkPeriod(MON, time(9), time(12)), WorkPeriod(MON, time(13), time(17))),
            "UTC",
            at(MON, 13, 30),
            True,
        ),
        ((), "UTC", at(MON, 12), False),  # no hours at all
        (ALL_WEEK, "Not/AZone", at(MON, 12), False),  # a bad zone never matches
    ],
)
def test_working_hours_are_read_on_the_persons_own_clock(periods, zone, moment, inside):
    assert in_working_hours(periods, zone, moment) is inside


def test_working_hours_follow_daylight_saving_on_the_local_clock():
    """London: 09:00 local is 09:00 UTC in winter and 08:00 UTC in summer."""
    summer_monday = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
    assert in_working_hours(WEEKDAYS_9_TO_5, "Europe/London", summer_monday)
    assert not in_working_hours(WEEKDAYS_9_TO_5, "Europe/London", at(MON, 8, 30))


@pytest.mark.parametrize(
    ("changes", "moment", "reason"),
    [
        ({}, at(MON, 12), None),
        ({"status": "busy"}, at(MON, 12), "busy"),
        ({"status": "away"}, at(MON, 12), "away"),
        ({"status": "offline"}, at(MON, 12), "offline"),
        ({"periods": WEEKDAYS_9_TO_5}, at(MON, 20), "outside working hours"),
        ({"periods": WEEKDAYS_9_TO_5, "time_zone": "America/New_York"}, at(MON, 20), None),
        ({"periods": ()}, at(MON, 12), "no working hours set"),
        ({"active": 4, "capacity": 5}, at(MON, 12), None),
        ({"active": 5, "capacity": 5}, at(MON, 12), "at capacity (5 of 5)"),
        ({"active": 7, "capacity": 5}, at(MON, 12), "at capacity (7 of 5)"),
        ({"capacity": 0}, at(MON, 12), "at capacity (0 of 0)"),
        ({"role": "csm"}, at(MON, 12), None),
        ({"role": "lead"}, at(MON, 12), None),  # eligible; choose() limits them to offers
        ({"role": "director"}, at(MON, 12), None),
        ({"role": "leader"}, at(MON, 12), "role does not work handoffs"),
        ({"role": "ops"}, at(MON, 12), "role does not work handoffs"),
    ],
)
def test_who_is_eligible_when(changes, moment, reason):
    assert unavailable_reason(person(**changes), moment) == reason


def test_round_robin_takes_turns_by_user_id_and_wraps():
    people = [person(7), person(3), person(5)]
    turns, cursor = [], None
    for _ in range(7):
        chosen = next_in_turn(people, cursor)
        turns.append(chosen.user_id)
        cursor = chosen.user_id
    assert turns == [3, 5, 7, 3, 5, 7, 3]


def test_round_robin_skips_whoever_is_not_eligible_without_losing_its_place():
    people = [person(1), person(2, status="away"), person(3)]
    assert choose(mode="round_robin", people=people, at=at(MON, 12), cursor=1).user_id == 3
    # The cursor belongs to someone who left or stepped away: the next id after it.
    assert choose(mode="round_robin", people=people, at=at(MON, 12), cursor=2).user_id == 3
    assert choose(mode="round_robin", people=people, at=at(MON, 12), cursor=3).user_id == 1


@given(st.sets(st.integers(1, 10_000), min_size=1, max_size=12), st.integers(1, 5))
def test_round_robin_gives_everyone_the_same_number_of_turns(ids, rounds):
    people = [person(i) for i in ids]
    counts: dict[int, int] = dict.fromkeys(ids, 0)
    cursor = None
    for _ in range(rounds * len(ids)):
        cursor = next_in_turn(people, cursor).user_id
        counts[cursor] += 1
    assert set(counts.values()) == {rounds}


def test_least_loaded_picks_the_fewest_active_then_the_longest_since_last_assigned():
    early, late = at(MON, 9), at(MON, 11)
    assert (
        least_loaded([person(1, active=3), person(2, active=1), person(3, active=2)]).user_id == 2
    )
    tied = [person(1, active=1, last_assigned_at=late), person(2, active=1, last_assigned_at=early)]
    assert least_loaded(tied).user_id == 2
    never = [person(1, active=1, last_assigned_at=early), person(2, active=1)]
    assert least_loaded(never).user_id == 2  # never assigned counts as longest ago
    assert least_loaded([person(9, active=1), person(4, active=1)]).user_id == 4


def test_least_loaded_passes_over_people_at_capacity():
    people = [person(1, active=2, capacity=2), person(2, active=4, capacity=10)]
    assert choose(mode="least_loaded", people=people, at=at(MON, 12)).user_id == 2


def test_manual_mode_and_an_empty_pool_choose_nobody():
    assert choose(mode="manual", people=[person(1)], at=at(MON, 12)) is None
    assert choose(mode="round_robin", people=[person(1, status="busy")], at=at(MON, 12)) is None
    assert choose(mode="round_robin", people=[], at=at(MON, 12)) is None


def test_leads_and_directors_take_offered_handoffs_but_not_the_pool():
    people = [person(1, role="director"), person(2, role="rep"), person(3, role="lead")]
    routine = choose(mode="round_robin", people=people, at=at(MON, 12))
    offered = choose(mode="round_robin", people=people, at=at(MON, 12), offered_to_role="director")
    assert routine.user_id == 2
    assert offered.user_id == 1
    only_leads = [person(1, role="director"), person(3, role="lead")]
    assert choose(mode="least_loaded", people=only_leads, at=at(MON, 12)) is None


def test_an_offer_goes_to_the_pool_only_when_the_role_has_nobody_eligible():
    director = person(1, role="director")
    rep = person(2)
    for unavailable in [
        {"status": "away"},
        {"active": 5},
        {"periods": WEEKDAYS_9_TO_5},  # Monday 20:00: outside their hours
    ]:
        people = [replace(director, **unavailable), rep]
        chosen = choose(
            mode="round_robin", people=people, at=at(MON, 20), offered_to_role="director"
        )
        assert chosen.user_id == 2, unavailable
    nobody = [replace(director, status="away"), replace(rep, status="offline")]
    assert (
        choose(mode="round_robin", people=nobody, at=at(MON, 20), offered_to_role="director")
        is None
    )


def test_someone_who_released_a_handoff_is_passed_over_for_it_during_the_cooldown():
    now = at(MON, 12)
    releases = [(1, now - timedelta(minutes=5)), (2, now - RELEASE_COOLDOWN)]
    assert cooling_down(releases, now) == frozenset({1})
    people = [person(1), person(2)]
    chosen = choose(mode="round_robin", people=people, at=now, exclude=cooling_down(releases, now))
    assert chosen.user_id == 2
    alone = choose(mode="round_robin", people=[person(1)], at=now, exclude=frozenset({1}))
    assert alone is None
