"""Frequency caps and quiet hours as pure functions: send, defer to the next allowed time, or
suppress — always naming the rule."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from governance.touches import CapRule, QuietRule, Touch, cap_until, quiet_until, touch_decide

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday, noon in London
EMAIL_3_IN_7 = CapRule(
    "3 emails a week", limit=3, window=timedelta(days=7), channels=frozenset({"email"})
)
SMS_1_A_DAY = CapRule(
    "1 SMS a day", limit=1, window=timedelta(days=1), action="suppress", channels=frozenset({"sms"})
)
NIGHT = QuietRule("Night", starts=time(21), ends=time(8))


def emails(*days_ago: float) -> list[Touch]:
    return [Touch(NOW - timedelta(days=d), "email") for d in days_ago]


def test_under_the_cap_it_sends_now():
    decision = touch_decide(
        now=NOW, channel="email", history=emails(1, 2), caps=[EMAIL_3_IN_7], zone=LONDON
    )

    assert decision.sends_now and decision.at == NOW and decision.rule == ""


def test_at_the_cap_it_is_deferred_until_the_oldest_touch_leaves_the_window():
    decision = touch_decide(
        now=NOW, channel="email", history=emails(1, 2, 6), caps=[EMAIL_3_IN_7], zone=LONDON
    )

    assert decision.action == "defer"
    assert decision.rule == "3 emails a week"
    assert NOW + timedelta(days=1) < decision.at <= NOW + timedelta(days=1, seconds=1)
    assert "3 per 7 days" in decision.reason


def test_touches_on_other_channels_or_outside_the_window_do_not_count():
    history = [*emails(8, 9, 10), Touch(NOW - timedelta(hours=1), "sms")] * 2

    decision = touch_decide(
        now=NOW, channel="email", history=history, caps=[EMAIL_3_IN_7], zone=LONDON
    )

    assert decision.sends_now


def test_a_suppressing_cap_drops_the_touch_and_says_which_rule():
    history = [Touch(NOW - timedelta(hours=3), "sms")]

    decision = touch_decide(
        now=NOW, channel="sms", history=history, caps=[SMS_1_A_DAY, EMAIL_3_IN_7], zone=LONDON
    )

    assert (decision.action, decision.rule) == ("suppress", "1 SMS a day")


def test_quiet_hours_defer_to_the_morning_in_the_contacts_time_zone():
    late = datetime(2026, 11, 18, 22, 30, tzinfo=UTC)  # 22:30 London, 17:30 New York

    in_london = touch_decide(now=late, channel="sms", history=[], quiet=[NIGHT], zone=LONDON)
    in_new_york = touch_decide(
        now=late, channel="sms", history=[], quiet=[NIGHT], zone=ZoneInfo("America/New_York")
    )

    assert in_london.action == "defer"
    assert in_london.at == datetime(2026, 11, 19, 8, 0, tzinfo=LONDON)
    assert "until Thu 08:00 Europe/London" in in_london.reason
    assert in_new_york.sends_now


def test_after_midnight_is_still_the_previous_evenings_quiet_period():
    early = datetime(2026, 11, 19, 6, 15, tzinfo=UTC)

    assert quiet_until(NIGHT, early, LONDON) == datetime(2026, 11, 19, 8, 0, tzinfo=LONDON)
    assert quiet_until(NIGHT, datetime(2026, 11, 19, 8, 0, tzinfo=UTC), LONDON) is None


def test_quiet_hours_on_chosen_weekdays_only():
    weekend = QuietRule(
        "Weekends", starts=time(0), ends=time(0), weekdays=frozenset({5, 6}), action="suppress"
    )
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)

    assert (
        touch_decide(now=saturday, channel="email", history=[], quiet=[weekend], zone=LONDON).action
        == "suppress"
    )
    assert touch_decide(
        now=NOW, channel="email", history=[], quiet=[weekend], zone=LONDON
    ).sends_now


def test_quiet_hours_follow_the_clock_across_a_dst_change():
    # The night of 28–29 March 2026: London springs forward at 01:00 UTC.
    night = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)

    assert quiet_until(NIGHT, night, LONDON) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_a_deferral_that_lands_in_quiet_hours_moves_on_to_the_morning():
    # The cap frees up at 22:00 tonight, which is quiet: the touch goes at 08:00 tomorrow.
    history = [Touch(datetime(2026, 11, 11, 22, 0, tzinfo=UTC), "email"), *emails(1, 2)]

    decision = touch_decide(
        now=NOW, channel="email", history=history, caps=[EMAIL_3_IN_7], quiet=[NIGHT], zone=LONDON
    )

    assert decision.action == "defer" and decision.rule == "3 emails a week"
    assert decision.at == datetime(2026, 11, 19, 8, 0, tzinfo=LONDON)


def test_a_zero_limit_pushes_a_whole_window_ahead():
    never = CapRule("No email", limit=0, window=timedelta(days=1))

    assert cap_until(never, NOW, []) == NOW + timedelta(days=1)
