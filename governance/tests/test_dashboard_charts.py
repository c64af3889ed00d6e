"""The trend charts' geometry: bars proportional to their values on a round axis, the first
response axis in hours once durations pass an hour and a half, and every mark titled."""

from __future__ import annotations

from datetime import date

import pytest

from governance.dashboard import charts
from governance.dashboard.histogram import bucket_of
from governance.dashboard.selectors import DurationFigures, HandoffTotals, TrendPoint


def point(day: int, raised: int = 0, breached: int = 0, minutes: float | None = None, **kw: int):
    counts = {bucket_of(minutes * 60): 1} if minutes is not None else {}
    return TrendPoint(
        date(2025, 3, day),
        handoffs=HandoffTotals(raised=raised, breached=breached),
        first_response=DurationFigures(counts),
        **kw,
    )


def test_bars_are_proportional_on_a_round_axis() -> None:
    chart = charts.handoffs_chart([point(3, 8, 2), point(4, 4), point(5)], "day")
    assert [label for _, label in chart.grid] == ["0", "5", "10"]  # 8 rounds up to 10
    raised = [b for b in chart.bars if b.css == "bar-raised"]
    assert raised[0].h == 2 * raised[1].h and raised[2].h == 0
    assert [b.title for b in chart.bars if b.css == "bar-breached"] == ["3 Mar: 2 breached"]
    assert not chart.empty and "12 handoffs raised, 2 breached" in chart.summary


def test_the_first_response_axis_turns_to_hours_past_ninety_minutes() -> None:
    short = charts.first_response_chart([point(3, minutes=20), point(4, minutes=40)], "day")
    assert short.grid[-1][1] == "50 min"
    long = charts.first_response_chart([point(3, minutes=20), point(4, minutes=300)], "day")
    assert long.grid[-1][1] == "5 h"
    median = next(line for line in long.lines if line.css == "line-median")
    assert len(median.dots) == 2 and median.dots[1][2].startswith("4 Mar: median 4 h 5")


def test_a_quiet_period_says_so() -> None:
    chart = charts.mix_chart([point(3), point(4)], "day")
    assert chart.empty
    assert charts.first_response_chart([point(3)], "day").empty


def test_the_mix_stacks_human_on_automated() -> None:
    chart = charts.mix_chart([point(3, automated=30, human=10)], "day")
    auto, human = chart.bars
    assert auto.css == "bar-auto" and human.css == "bar-human"
    assert abs(human.y + human.h - auto.y) < 0.2 and auto.h == pytest.approx(3 * human.h)
    assert "(75% automated)" in auto.title
