"""Frequency caps and quiet hours: may this automated touch go out now, later, or never?

Pure functions over plain values, so the rule is the same in the engine, in replay and in tests.
A cap counts the contact's automated touches across every team and channel it names within a
rolling window; quiet hours are local to the contact. Each rule either defers the touch to the
next allowed time or suppresses it, and the decision names the rule that made it. Human 1:1
replies never come here: they are never capped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Action = Literal["defer", "suppress"]
SEND: Literal["send"] = "send"
MAX_DEFERRALS = 32  # a cap and quiet hours can push a touch back and forth; this bounds it


@dataclass(frozen=True)
class Touch:
    at: datetime
    channel: str


@dataclass(frozen=True)
class CapRule:
    name: str
    limit: int
    window: timedelta
    action: Action = "defer"
    channels: frozenset[str] = frozenset()  # empty: every channel

    def applies_to(self, channel: str) -> bool:
        return not self.channels or channel in self.channels


@dataclass(frozen=True)
class QuietRule:
    """Quiet from `starts` to `ends` local time on `weekdays` (0 = Monday) — the weekday the
    quiet period starts on; `ends` ≤ `starts` runs past midnight."""

    name: str
    starts: time
    ends: time
    action: Action = "defer"
    weekdays: frozenset[int] = frozenset(range(7))
    channels: frozenset[str] = frozenset()

    def applies_to(self, channel: str) -> bool:
        return not self.channels or channel in self.channels


@dataclass(frozen=True)
class Decision:
    action: Literal["send", "defer", "suppress"]
    at: datetime  # when it may go out (now for send; the deferral time for defer)
    rule: str = ""
    reason: str = ""

    @property
    def sends_now(self) -> bool:
        return self.action == SEND


def touch_decide(
    *,
    now: datetime,
    channel: str,
    history: Sequence[Touch],
    caps: Sequence[CapRule] = (),
    quiet: Sequence[QuietRule] = (),
    zone: ZoneInfo,
) -> Decision:
    """The decision for one automated touch on `channel` at `now`. `history` is the contact's
    earlier automated touches (any order). A suppressing rule that applies wins at once; deferring
    rules move the time on until no rule objects (the first deferral's rule is the one reported)."""
    at = now
    first: tuple[str, str] | None = None
    for _ in range(MAX_DEFERRALS):
        blocked = _first_objection(at, channel, history, caps, quiet, zone)
        if blocked is None:
            if first is None:
                return Decision(SEND, at)
            return Decision("defer", at, first[0], first[1])
        rule, action, reason, until = blocked
        if action == "suppress":
            return Decision("suppress", at, rule, reason)
        if first is None:
            first = (rule, reason)
        at = until
    assert first is not None
    return Decision("suppress", at, first[0], f"{first[1]}; no allowed time found")


def _first_objection(
    at: datetime,
    channel: str,
    history: Sequence[Touch],
    caps: Sequence[CapRule],
    quiet: Sequence[QuietRule],
    zone: ZoneInfo,
) -> tuple[str, Action, str, datetime] | None:
    for rule in quiet:
        if rule.applies_to(channel):
            ends = quiet_until(rule, at, zone)
            if ends is not None:
                local = ends.astimezone(zone)
                reason = f"quiet hours ({rule.name}) until {local:%a %H:%M} {zone.key}"
                return rule.name, rule.action, reason, ends
    for cap in caps:
        if cap.applies_to(channel):
            until = cap_until(cap, at, history)
            if until is not None:
                reason = f"cap {cap.name}: {cap.limit} per {_span(cap.window)} reached"
                return cap.name, cap.action, reason, until
    return None


def cap_until(cap: CapRule, at: datetime, history: Sequence[Touch]) -> datetime | None:
    """None if one more touch at `at` stays within the cap; else when it next would."""
    if cap.limit <= 0:
        return at + cap.window
    recent = sorted(
        t.at for t in history if cap.applies_to(t.channel) and at - cap.window < t.at <= at
    )
    if len(recent) < cap.limit:
        return None
    # The window must lose enough of the oldest touches to make room for one more.
    return recent[len(recent) - cap.limit] + cap.window + timedelta(microseconds=1)


def quiet_until(rule: QuietRule, at: datetime, zone: ZoneInfo) -> datetime | None:
    """None if `at` is outside the quiet period; else the instant the period ends (local wall
    time, so a DST change moves it with the clock)."""
    local = at.astimezone(zone)
    for days_back in (0, 1):
        start_day = local.date() - timedelta(days=days_back)
        if start_day.weekday() not in rule.weekdays:
            continue
        overnight = rule.ends <= rule.starts
        if days_back == 1 and not overnight:
            continue
        starts = _wall(start_day, rule.starts, zone)
        ends = _wall(start_day + timedelta(days=1 if overnight else 0), rule.ends, zone)
        if starts <= at < ends:
            return ends
    return None


def _wall(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as an aware instant (fold 0: the first of a repeated hour; a
    skipped hour maps forward, as zoneinfo does)."""
    return datetime.combine(day, clock, tzinfo=zone)


def _span(window: timedelta) -> str:
    if window % timedelta(days=1) == timedelta(0):
        days = window // timedelta(days=1)
        return "day" if days == 1 else f"{days} days"
    hours = window // timedelta(hours=1)
    return "hour" if hours == 1 else f"{hours} hours"
