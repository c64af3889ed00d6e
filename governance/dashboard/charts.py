"""Trend charts as plain geometry for inline SVG: no chart library, no script. Each bar and point
carries its own title (a hover tooltip), and each chart a one-sentence summary for screen
readers. Pure: figures in, shapes out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from governance.dashboard.selectors import TrendPoint
from portal.timefmt import duration_label

WIDTH, HEIGHT = 460, 170
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 22


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    css: str
    title: str


@dataclass(frozen=True)
class Line:
    points: str
    css: str
    dots: list[tuple[float, float, str]]


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    summary: str
    legend: list[tuple[str, str]]
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    grid: list[tuple[float, str]] = field(default_factory=list)
    xlabels: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    empty: bool = False

    @property
    def baseline(self) -> float:
        return HEIGHT - BOTTOM

    @property
    def left(self) -> int:
        return LEFT

    @property
    def right(self) -> int:
        return WIDTH - RIGHT


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _label(start: date, step: str) -> str:
    if step == "month":
        return f"{start:%b %Y}"
    return f"{start:%-d %b}"


def _frame(points: Sequence[TrendPoint], step: str, top: float, unit: str = "") -> dict:
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / max(1, len(points))
    every = max(1, math.ceil(len(points) / 8))
    xlabels = [
        (LEFT + slot * i + slot / 2, _label(p.start, step))
        for i, p in enumerate(points)
        if i % every == 0
    ]
    grid = []
    for fraction in (0, 0.5, 1):
        value = top * fraction
        grid.append((_y(value, top), f"{value:g}{unit}"))
    return {"xlabels": xlabels, "grid": grid, "slot": slot}


def _y(value: float, top: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return round(HEIGHT - BOTTOM - plot_h * (value / top if top else 0), 1)


def handoffs_chart(points: Sequence[TrendPoint], step: str) -> Chart:
    top = _nice_max(max((p.handoffs.raised for p in points), default=0))
    frame = _frame(points, step, top)
    slot = frame["slot"]
    bars = []
    for i, p in enumerate(points):
        x = LEFT + slot * i + slot * 0.15
        w = max(1.0, slot * 0.7)
        when = _label(p.start, step)
        raised, breached = p.handoffs.raised, p.handoffs.breached
        y = _y(raised, top)
        bars.append(
            Bar(x, y, w, round(HEIGHT - BOTTOM - y, 1), "bar-raised", f"{when}: {raised} raised")
        )
        if breached:
            yb = _y(breached, top)
            bars.append(
                Bar(
                    x,
                    yb,
                    w,
                    round(HEIGHT - BOTTOM - yb, 1),
                    "bar-breached",
                    f"{when}: {breached} breached",
                )
            )
    total = sum(p.handoffs.raised for p in points)
    breached = sum(p.handoffs.breached for p in points)
    return Chart(
        key="handoffs",
        title=f"Handoffs raised and breached, per {step}",
        summary=f"{total} handoffs raised, {breached} breached, over {len(points)} {step}s.",
        legend=[("bar-raised", "Raised"), ("bar-breached", "Breached")],
        bars=bars,
        grid=frame["grid"],
        xlabels=frame["xlabels"],
        empty=total == 0,
    )


def first_response_chart(points: Sequence[TrendPoint], step: str) -> Chart:
    def minutes(value: timedelta | None) -> float | None:
        return None if value is None else value.total_seconds() / 60

    medians = [minutes(p.first_response.median) for p in points]
    p90s = [minutes(p.first_response.p90) for p in points]
    longest = max((v for v in [*medians, *p90s] if v is not None), default=0)
    # The axis reads in minutes up to an hour and a half, then in hours.
    per, unit = (60, " h") if longest > 90 else (1, " min")
    top = _nice_max(longest / per) * per
    frame = _frame(points, step, top / per, unit)
    slot = frame["slot"]
    lines = []
    for css, values, name in (("line-p90", p90s, "p90"), ("line-median", medians, "median")):
        coords = []
        dots = []
        for i, (p, v) in enumerate(zip(points, values, strict=True)):
            if v is None:
                continue
            x, y = round(LEFT + slot * i + slot / 2, 1), _y(v, top)
            coords.append(f"{x},{y}")
            value = getattr(p.first_response, "median" if name == "median" else "p90")
            dots.append((x, y, f"{_label(p.start, step)}: {name} {duration_label(value)}"))
        lines.append(Line(" ".join(coords), css, dots))
    measured = [v for v in medians if v is not None]
    return Chart(
        key="first-response",
        title=f"First response time (business time), per {step}",
        summary=(
            f"Median first response per {step}, from {min(measured):.0f} to "
            f"{max(measured):.0f} minutes."
            if measured
            else "No first responses in the period."
        ),
        legend=[("line-median", "Median"), ("line-p90", "p90")],
        lines=lines,
        grid=frame["grid"],
        xlabels=frame["xlabels"],
        empty=not measured,
    )


def mix_chart(points: Sequence[TrendPoint], step: str) -> Chart:
    top = _nice_max(max((p.automated + p.human for p in points), default=0))
    frame = _frame(points, step, top)
    slot = frame["slot"]
    bars = []
    for i, p in enumerate(points):
        x = LEFT + slot * i + slot * 0.15
        w = max(1.0, slot * 0.7)
        when = _label(p.start, step)
        y_auto = _y(p.automated, top)
        y_all = _y(p.automated + p.human, top)
        share = (
            f" ({p.automated / (p.automated + p.human):.0%} automated)"
            if p.automated + p.human
            else ""
        )
        bars.append(
            Bar(
                x,
                y_auto,
                w,
                round(HEIGHT - BOTTOM - y_auto, 1),
                "bar-auto",
                f"{when}: {p.automated} automated{share}",
            )
        )
        bars.append(
            Bar(x, y_all, w, round(y_auto - y_all, 1), "bar-human", f"{when}: {p.human} human")
        )
    automated = sum(p.automated for p in points)
    human = sum(p.human for p in points)
    return Chart(
        key="mix",
        title=f"Automated vs human touches, per {step}",
        summary=f"{automated} automated and {human} human touches over {len(points)} {step}s.",
        legend=[("bar-auto", "Automated"), ("bar-human", "Human")],
        bars=bars,
        grid=frame["grid"],
        xlabels=frame["xlabels"],
        empty=automated + human == 0,
    )


def trend_charts(points: Sequence[TrendPoint], step: str) -> list[Chart]:
    return [
        handoffs_chart(points, step),
        first_response_chart(points, step),
        mix_chart(points, step),
    ]
