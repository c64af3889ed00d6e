"""The replay engine: what a RuleSet would have produced over a window of stored history.

Read-only. It reads stored signals, automated touch attempts, inbound message times and
handoffs (with their event history) in pages, and re-derives, through the same pure cores live
code runs (journeys/rules conditions, handoffs/sla business time and clock_start,
governance/touches.touch_decide, governance/tone.tone_check):

- handoffs by trigger, team and priority: those handoff rules raised are re-evaluated (a match
  raises a handoff unless the contact already has an active one for the trigger, which it then
  joins as evidence — as handoff_raise does); every other handoff (triage, journey steps,
  approvals, manual) is carried as recorded;
- each automated journey touch re-decided: sent, deferred or suppressed by a cap or quiet
  hours, blocked by a banned phrase, or held for approval by a promise rule;
- SLA breaches (first reply, next reply, resolution) from each handoff's clock under the
  RuleSet's policies and calendars, replayed over the recorded human replies, contact messages,
  resolutions and reopenings. A handoff the RuleSet raises that never existed had no reply: it
  breaches when its due time passed before the window's end.

The live RuleSet over a window therefore reproduces what happened; see docs/replay.md for what
a replay cannot know (journeys are not re-run after a touch a draft would decide differently).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from governance import tone as tone_checks
from governance import touches
from governance.policies.choices import RuleKind, TouchAction
from governance.policies.models import Approval, TouchDecision
from governance.policies.rules import COUNTED_STATUSES, Ruleset
from governance.replay.ruleset import RuleSet, reply_window_minutes
from governance.selectors import SlaTerms
from handoffs.choices import Direction, HandoffEventKind
from handoffs.models import Handoff, HandoffEvent, Message
from handoffs.services.clocks import clock_start
from handoffs.sla import NeverOpen, add_business_time, business_time_between, running_clock
from journeys import rules
from journeys.ingestion import signal_document
from journeys.models import Account, Contact, JourneyVersion, Signal
from journeys.selectors import exchange_rates
from portal.models import Team

PAGE = 500
Progress = Callable[[int, int], None]
_SLA_TEXT = re.compile(r"first reply within (\d+) min \(([^)]*)\)")
_FOREVER = datetime.max.replace(tzinfo=ZoneInfo("UTC"))


@dataclass(frozen=True)
class Window:
    """[start, end) of stored history; `team_ids` narrows what is counted (None: every team).
    Rules are always replayed for every team: caps count a contact's touches from all teams."""

    start: datetime
    end: datetime
    team_ids: frozenset[int] | None = None

    def counts(self, team_id: int | None) -> bool:
        return self.team_ids is None or team_id in self.team_ids


def replay_size(*, window: Window) -> int:
    """How many stored rows one replay reads, for the progress bar (four counts)."""
    return (
        _handoffs_q(window).count()
        + _signals_q(window).count()
        + _touch_messages_q(window).count()
        + _touch_decisions_q(window).count()
    )


def replay(*, ruleset: RuleSet, window: Window, progress: Progress | None = None) -> dict[str, Any]:
    """What `ruleset` would have produced over `window`, as JSON-ready counts (docs/replay.md).
    Reads only; `progress(done, total)` is called after every page."""
    meter = _Meter(progress, replay_size(window=window))
    teams = {t.pk: t for t in Team.objects.only("id", "slug", "name", "first_response_minutes")}
    recorded = _recorded_handoffs(window, meter)
    attempts = _rule_matches(ruleset, window, meter)
    handoffs = _simulate_raises(ruleset, window, teams, recorded, attempts)
    breaches = [
        (h, target)
        for h in handoffs
        if (target := _breach(h.terms, h.created_at, h.life, window.end)) is not None
    ]
    touch_counts = _touches(ruleset, window, meter)
    meter.finish()
    return _result(window, teams, handoffs, breaches, touch_counts)


class _Meter:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def add(self, rows: int) -> None:
        self.done = min(self.total, self.done + rows)
        if self.progress is not None:
            self.progress(self.done, self.total)

    def finish(self) -> None:
        self.done = self.total
        if self.progress is not None:
            self.progress(self.done, self.total)


def _pages(queryset: Any, fields: tuple[str, ...], meter: _Meter) -> Iterator[list[dict[str, Any]]]:
    """Keyset pages by id: never the whole table in memory, never an OFFSET scan."""
    last = 0
    while True:
        page = list(queryset.filter(id__gt=last).order_by("id").values("id", *fields)[:PAGE])
        if not page:
            return
        meter.add(len(page))
        yield page
        last = page[-1]["id"]
        if len(page) < PAGE:
            return


# --- handoffs ---------------------------------------------------------------------------------


@dataclass
class _Life:
    """What people and the contact did to a recorded handoff: (at, kind) in time order."""

    events: list[tuple[datetime, str]] = field(default_factory=list)

    def intervals(self, created: datetime) -> list[tuple[datetime, datetime]]:
        """When it was active (open, claimed or waiting): raised → resolved, reopened → …"""
        spans, start = [], created
        for at, kind in self.events:
            if kind == HandoffEventKind.RESOLVED and start is not None:
                spans.append((start, at))
                start = None
            elif kind == HandoffEventKind.REOPENED and start is None:
                start = at
        if start is not None:
            spans.append((start, _FOREVER))
        return spans


@dataclass
class _Recorded:
    id: int
    team_id: int
    contact_id: int
    trigger: str
    priority: str
    rule_id: int | None
    signal_id: int | None
    created_at: datetime
    first_responded_at: datetime | None
    step_minutes: int | None = None
    life: _Life = field(default_factory=_Life)


@dataclass
class _Handoff:
    """A handoff as the replay counts it: carried as recorded, or raised by a rule."""

    team_id: int
    trigger: str
    priority: str
    created_at: datetime
    terms: SlaTerms
    life: _Life


def _handoffs_q(window: Window) -> Any:
    """Raised in the window, or raised earlier and possibly still active when it began (they
    occupy a contact's trigger, so a rule's match joins them instead of raising)."""
    # A handoff resolved before the window may have been reopened in it: its events say.
    reopened = HandoffEvent.objects.filter(
        kind=HandoffEventKind.REOPENED, at__gte=window.start
    ).values("handoff_id")
    return Handoff.objects.filter(created_at__lt=window.end).filter(
        Q(created_at__gte=window.start)
        | Q(resolved_at__isnull=True)
        | Q(resolved_at__gte=window.start)
        | Q(id__in=reopened)
    )


LIFE_EVENTS = (
    HandoffEventKind.CREATED,
    HandoffEventKind.REPLIED,
    HandoffEventKind.CONTACT_REPLIED,
    HandoffEventKind.RESOLVED,
    HandoffEventKind.REOPENED,
)


def _recorded_handoffs(window: Window, meter: _Meter) -> dict[int, _Recorded]:
    fields = (
        "team_id",
        "contact_id",
        "trigger",
        "priority",
        "rule_id",
        "signal_id",
        "created_at",
        "first_responded_at",
    )
    found: dict[int, _Recorded] = {}
    ids = _handoffs_q(window).values_list("id", flat=True)
    for page in _pages(Handoff.objects.filter(id__in=ids), fields, meter):
        batch = {row["id"]: _Recorded(**row) for row in page}
        events = HandoffEvent.objects.filter(handoff_id__in=batch, kind__in=LIFE_EVENTS)
        for handoff_id, kind, at, data in events.order_by("at", "id").values_list(
            "handoff_id", "kind", "at", "data"
        ):
            handoff = batch[handoff_id]
            if kind == HandoffEventKind.CREATED:
                handoff.step_minutes = _step_minutes(data)
            else:
                handoff.life.events.append((at, kind))
        for handoff in batch.values():
            _first_reply_exact(handoff)
        found.update(batch)
    return found


def _step_minutes(data: Any) -> int | None:
    """A journey step's (or a held message's) own first-reply minutes beat every policy; the
    raise recorded them in its event ('first reply within 30 min (journey step)')."""
    match = _SLA_TEXT.search(str((data or {}).get("sla") or ""))
    if match and match.group(2) == "journey step":
        return int(match.group(1))
    return None


def _first_reply_exact(handoff: _Recorded) -> None:
    """The first reply at the instant the handoff stored (its event is a moment later)."""
    if handoff.first_responded_at is None:
        return
    for index, (_at, kind) in enumerate(handoff.life.events):
        if kind == HandoffEventKind.REPLIED:
            handoff.life.events[index] = (handoff.first_responded_at, kind)
            return


@dataclass(frozen=True)
class _Match:
    at: datetime
    signal_id: int
    contact_id: int
    trigger: str
    team_id: int
    priority: str
    rule_key: int


def _signals_q(window: Window) -> Any:
    return Signal.objects.filter(received_at__gte=window.start, received_at__lt=window.end)


def _rule_matches(ruleset: RuleSet, window: Window, meter: _Meter) -> list[_Match]:
    """Every (signal, rule) match in ingestion's order: signals as stored, rules by id."""
    by_type: dict[str, list[Any]] = defaultdict(list)
    for rule in ruleset.handoff_rules():
        by_type[rule.signal_type].append(rule)
    uses_money = any(rules.condition_uses_currency(r.condition) for r in ruleset.handoff_rules())
    rates = exchange_rates() if uses_money else None
    matches: list[_Match] = []
    fields = ("type", "contact_id", "account_id", "properties", "occurred_at", "received_at")
    query = _signals_q(window).filter(type__in=list(by_type))
    total_skipped = _signals_q(window).exclude(type__in=list(by_type)).count()
    meter.add(total_skipped)  # read by nobody: no rule listens to their type
    for page in _pages(query, fields, meter):
        contacts = _people(Contact, {r["contact_id"] for r in page}, rules.CONTACT_FIELDS)
        accounts = _people(
            Account, {r["account_id"] for r in page if r["account_id"]}, rules.ACCOUNT_FIELDS
        )
        for row in page:
            data = {
                "type": row["type"],
                "properties": row["properties"] or {},
                "contact": contacts.get(row["contact_id"], {}),
                "account": accounts.get(row["account_id"], {}),
            }
            doc = signal_document(data, row["occurred_at"], rates)
            for rule in by_type[row["type"]]:
                if rules.condition_matches(rule.condition, doc):
                    matches.append(
                        _Match(
                            at=row["received_at"],
                            signal_id=row["id"],
                            contact_id=row["contact_id"],
                            trigger=rule.trigger,
                            team_id=rule.team_id,
                            priority=rule.priority,
                            rule_key=rule.pk,
                        )
                    )
    return matches


def _people(model: Any, ids: set[int], names: tuple[str, ...]) -> dict[int, dict[str, Any]]:
    """The contact/account as a signal's document shows it (the fields it has, as stored now)."""
    rows = model.objects.filter(id__in=ids).values("id", *names)
    return {row.pop("id"): {k: v for k, v in row.items() if v} for row in rows}


def _simulate_raises(
    ruleset: RuleSet,
    window: Window,
    teams: dict[int, Team],
    recorded: dict[int, _Recorded],
    matches: list[_Match],
) -> list[_Handoff]:
    """Walk the window in time order. Recorded handoffs not raised by a rule (and every one
    raised before the window) hold their contact's trigger while they were active; a rule's
    match raises a handoff unless the trigger is held, and then holds it itself — for as long as
    the recorded handoff from that very signal was active, or to the end when there was none."""
    by_signal = {
        (h.signal_id, h.trigger, h.team_id): h
        for h in recorded.values()
        if h.rule_id is not None and h.signal_id is not None and h.created_at >= window.start
    }
    held: dict[tuple[int, str], list[tuple[datetime, datetime]]] = defaultdict(list)
    out: list[_Handoff] = []
    carried = [h for h in recorded.values() if h.rule_id is None or h.created_at < window.start]
    for h in carried:
        held[(h.contact_id, h.trigger)].extend(h.life.intervals(h.created_at))
        if h.created_at >= window.start:
            terms = _terms(ruleset, teams, h.team_id, h.priority, None, h.step_minutes)
            out.append(_Handoff(h.team_id, h.trigger, h.priority, h.created_at, terms, h.life))
    for match in sorted(matches, key=lambda m: m.at):
        slot = (match.contact_id, match.trigger)
        if any(start <= match.at < end for start, end in held[slot]):
            continue  # joins the active handoff as evidence
        same = by_signal.get((match.signal_id, match.trigger, match.team_id))
        created, life = (same.created_at, same.life) if same is not None else (match.at, _Life())
        held[slot].extend(life.intervals(created))
        terms = _terms(ruleset, teams, match.team_id, match.priority, match.rule_key, None)
        out.append(_Handoff(match.team_id, match.trigger, match.priority, created, terms, life))
    return out


def _terms(
    ruleset: RuleSet,
    teams: dict[int, Team],
    team_id: int,
    priority: str,
    rule_key: int | None,
    step_minutes: int | None,
) -> SlaTerms:
    team = teams.get(team_id)
    return ruleset.terms(
        team_id=team_id,
        priority=priority,
        team_default_minutes=team.first_response_minutes if team is not None else 0,
        rule_key=rule_key,
        step_minutes=step_minutes,
    )


# --- the SLA clock over a handoff's recorded life (as handoffs/services/clocks.py runs it) -----


def _add(start: datetime, minutes: float, terms: SlaTerms) -> datetime:
    try:
        return add_business_time(start, minutes, terms.calendar)
    except NeverOpen:
        return start + timedelta(minutes=minutes)


def _between(a: datetime, b: datetime, terms: SlaTerms) -> timedelta:
    try:
        return business_time_between(a, b, terms.calendar)
    except NeverOpen:
        return b - a


def _breach(terms: SlaTerms, created: datetime, life: _Life, horizon: datetime) -> str | None:
    """The target the handoff's clock would have missed first (the sweep flags a handoff once),
    or None. Replies, contact messages, resolutions and reopenings move the clock as
    clock_on_human_reply / clock_on_contact_message do."""
    start = clock_start(terms=terms, now=created)
    first_due, resolution_due = start.first_response_due_at, start.resolution_due_at
    responded, next_due, paused_at, active = False, None, None, True
    events = [(at, kind) for at, kind in life.events if at < horizon]
    for at, kind in [*events, (horizon, "end")]:
        if active:
            clock = running_clock(
                first_response_due=first_due,
                first_responded=responded,
                next_response_due=next_due,
                resolution_due=resolution_due,
                paused=paused_at is not None,
            )
            late = clock is not None and (clock.due <= at if kind == "end" else clock.due < at)
            if late:
                return clock.target
        if kind == "end":
            return None
        if kind == HandoffEventKind.REPLIED:
            responded, next_due = True, None
            if terms.pause_while_waiting and paused_at is None:
                paused_at = at
        elif kind in (HandoffEventKind.CONTACT_REPLIED, HandoffEventKind.REOPENED):
            reopened = kind == HandoffEventKind.REOPENED
            if paused_at is not None:
                if resolution_due is not None and not reopened:
                    left = _between(paused_at, resolution_due, terms)
                    resolution_due = _add(at, left.total_seconds() / 60, terms)
                paused_at = None
            if reopened:
                active, next_due = True, None
                resolution_due = (
                    _add(at, terms.resolution_minutes, terms) if terms.resolution_minutes else None
                )
            if responded and next_due is None and terms.next_response_minutes:
                next_due = _add(at, terms.next_response_minutes, terms)
        elif kind == HandoffEventKind.RESOLVED:
            active = False
    return None


# --- automated touches ----------------------------------------------------------------------


@dataclass
class _Attempt:
    at: datetime
    order: int  # a stable tie-break: messages, then decisions, by id
    contact_id: int
    channel: str
    team_id: int | None
    tone: tuple[str, str] | None  # (blocked|held, rule) under the RuleSet; None: the text passes
    message_id: int | None = None
    message_counted: bool = True


def _touch_messages_q(window: Window) -> Any:
    """Journey touches that were queued (sent at once or deferred); an approved held message
    is a person's decision, not an attempt, so it is left out."""
    approved = Approval.objects.filter(message__isnull=False).values("message_id")
    return (
        Message.objects.filter(
            automated=True,
            direction=Direction.OUT,
            enrollment__isnull=False,
            created_at__gte=window.start,
            created_at__lt=window.end,
        )
        .exclude(step="")
        .exclude(id__in=approved)
    )


def _touch_decisions_q(window: Window) -> Any:
    """Journey touches that never reached the outbox: suppressed, blocked or held."""
    return TouchDecision.objects.filter(
        action__in=[TouchAction.SUPPRESSED, TouchAction.BLOCKED, TouchAction.HELD],
        created_at__gte=window.start,
        created_at__lt=window.end,
    )


def _tone_verdict(ruleset: RuleSet, team_id: int | None, text: str, channel: str) -> Any:
    """Tone depends on the text alone, so it is decided as the page is read and the text is
    not kept: banned → blocked, a promise → held (as automated_send)."""
    rules_ = ruleset.touch_rules(team_id).tone
    if not rules_:
        return None
    report = tone_checks.tone_check(text=text, channel=channel, rules=rules_)
    if report.blocked:
        return TouchAction.BLOCKED, next(f for f in report.findings if f.kind == "banned").rule
    if report.needs_approval:
        return TouchAction.HELD, next(f for f in report.findings if f.kind == "promise").rule
    return None


def _touch_attempts(ruleset: RuleSet, window: Window, meter: _Meter) -> list[_Attempt]:
    attempts: list[_Attempt] = []
    versions: dict[int, dict[str, int | None]] = {}
    slugs = dict(Team.objects.values_list("slug", "id"))
    fields = (
        "created_at",
        "conversation__contact_id",
        "channel",
        "body",
        "enrollment__version_id",
        "step",
        "outbox__status",
    )
    for page in _pages(_touch_messages_q(window), fields, meter):
        deferred = {
            d["message_id"]: d
            for d in TouchDecision.objects.filter(
                action=TouchAction.DEFERRED, message_id__in=[r["id"] for r in page]
            ).values("message_id", "team_id", "text")
        }
        _load_versions(versions, {r["enrollment__version_id"] for r in page}, slugs)
        for row in page:
            decided = deferred.get(row["id"])
            team_id = (
                decided["team_id"]
                if decided is not None
                else versions.get(row["enrollment__version_id"] or 0, {}).get(row["step"])
            )
            text = decided["text"] if decided and decided["text"] else row["body"]
            attempts.append(
                _Attempt(
                    at=row["created_at"],
                    order=row["id"],
                    contact_id=row["conversation__contact_id"],
                    channel=row["channel"],
                    team_id=team_id,
                    tone=_tone_verdict(ruleset, team_id, text, row["channel"]),
                    message_id=row["id"],
                    message_counted=row["outbox__status"] in COUNTED_STATUSES,
                )
            )
    fields = ("created_at", "contact_id", "channel", "text", "team_id")
    for page in _pages(_touch_decisions_q(window), fields, meter):
        for row in page:
            attempts.append(
                _Attempt(
                    at=row["created_at"],
                    order=10**15 + row["id"],
                    contact_id=row["contact_id"],
                    channel=row["channel"],
                    team_id=row["team_id"],
                    tone=_tone_verdict(ruleset, row["team_id"], row["text"], row["channel"]),
                )
            )
    attempts.sort(key=lambda a: (a.at, a.order))
    return attempts


def _load_versions(
    versions: dict[int, dict[str, int | None]], ids: set[int | None], slugs: dict[str, int]
) -> None:
    """Step key → owning team per journey version, as touch_team reads it: the step's team,
    else the first team the version names."""
    wanted = {i for i in ids if i and i not in versions}
    for pk, definition in JourneyVersion.objects.filter(id__in=wanted).values_list(
        "id", "definition"
    ):
        steps = [s for s in (definition or {}).get("steps", []) if isinstance(s, dict)]
        owner = next((s.get("team") for s in steps if s.get("team")), None)
        versions[pk] = {str(s.get("key")): slugs.get(s.get("team") or owner or "") for s in steps}


def _touches(ruleset: RuleSet, window: Window, meter: _Meter) -> Counter[tuple[str, str, str]]:
    """(action, rule kind, rule name) → count, for touches of the counted teams; ('sent', '',
    '') for those that went out at once and ('attempts', '', '') for all of them."""
    attempts = _touch_attempts(ruleset, window, meter)
    counts: Counter[tuple[str, str, str]] = Counter()
    if not attempts:
        return counts
    contact_ids = {a.contact_id for a in attempts}
    longest = max(
        (c.window for t in {a.team_id for a in attempts} for c in ruleset.touch_rules(t).caps),
        default=timedelta(0),
    )
    simulated = {a.message_id for a in attempts if a.message_id is not None}
    history = _base_history(contact_ids, window.start - longest, window.end, simulated)
    inbound = _inbound_times(contact_ids, window)
    zones = dict(Contact.objects.filter(id__in=contact_ids).values_list("id", "timezone"))
    for attempt in attempts:
        rs = ruleset.touch_rules(attempt.team_id)
        action, kind, rule, due = _decide(ruleset, rs, attempt, history, inbound, zones)
        if action in ("sent", "deferred") and attempt.message_counted:
            history[attempt.contact_id].append(touches.Touch(at=due, channel=attempt.channel))
        if window.counts(attempt.team_id):
            counts[("attempts", "", "")] += 1
            counts[(action, kind, rule)] += 1
    return counts


def _decide(
    ruleset: RuleSet,
    rs: Ruleset,
    attempt: _Attempt,
    history: dict[int, list[touches.Touch]],
    inbound: dict[int, list[datetime]],
    zones: dict[int, str],
) -> tuple[str, str, str, datetime]:
    """As governance.policies.services.automated_send decides: timing first (a suppressed
    touch needs no tone review), then tone (banned → blocked, promise → held)."""
    now = attempt.at
    decision = touches.Decision(touches.SEND, now)
    if (rs.caps or rs.quiet) and not _in_conversation(inbound.get(attempt.contact_id, []), now):
        decision = touches.touch_decide(
            now=now,
            channel=attempt.channel,
            history=history.get(attempt.contact_id, []),
            caps=rs.caps,
            quiet=rs.quiet,
            zone=_zone(zones.get(attempt.contact_id, ""), ruleset.team_zone_name(attempt.team_id)),
        )
    timing_kind = (
        RuleKind.QUIET_HOURS
        if rs.rule_id(RuleKind.QUIET_HOURS, decision.rule) is not None
        else RuleKind.CAP
    )
    if decision.action == "suppress":
        return TouchAction.SUPPRESSED, timing_kind, decision.rule, now
    if attempt.tone is not None:
        action, rule = attempt.tone
        return action, RuleKind.TONE, rule, now
    if decision.action == "defer":
        return TouchAction.DEFERRED, timing_kind, decision.rule, decision.at
    return "sent", "", "", now


def _in_conversation(times: list[datetime], now: datetime) -> bool:
    minutes = reply_window_minutes()
    if minutes <= 0:
        return False
    since = now - timedelta(minutes=minutes)
    return any(since <= t <= now for t in times)


def _zone(contact_zone: str, team_zone: str) -> ZoneInfo:
    """As governance.policies.rules.contact_zone: the contact's, the team's calendar's, the
    site's, else UTC."""
    for name in (contact_zone, team_zone, settings.TIME_ZONE):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _chunks(ids: set[int], size: int = PAGE) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


def _base_history(
    contact_ids: set[int], since: datetime, until: datetime, simulated: set[int]
) -> dict[int, list[touches.Touch]]:
    """The contacts' automated touches the replay does not re-decide (bot replies, after-hours
    replies, approved messages, touches before the window), as touch_history counts them."""
    history: dict[int, list[touches.Touch]] = defaultdict(list)
    for chunk in _chunks(contact_ids):
        rows = (
            Message.objects.filter(
                conversation__contact_id__in=chunk,
                automated=True,
                direction=Direction.OUT,
                outbox__status__in=COUNTED_STATUSES,
            )
            .annotate(touch_at=Coalesce(F("outbox__sent_at"), F("outbox__next_attempt_at")))
            .filter(touch_at__gt=since, touch_at__lte=until)
            .values_list("id", "conversation__contact_id", "touch_at", "channel")
        )
        for pk, contact_id, at, channel in rows.iterator(chunk_size=PAGE):
            if pk not in simulated:
                history[contact_id].append(touches.Touch(at=at, channel=channel))
    return history


def _inbound_times(contact_ids: set[int], window: Window) -> dict[int, list[datetime]]:
    since = window.start - timedelta(minutes=max(0, reply_window_minutes()))
    times: dict[int, list[datetime]] = defaultdict(list)
    for chunk in _chunks(contact_ids):
        rows = Message.objects.filter(
            conversation__contact_id__in=chunk,
            direction=Direction.IN,
            created_at__gte=since,
            created_at__lt=window.end,
        ).values_list("conversation__contact_id", "created_at")
        for contact_id, at in rows.iterator(chunk_size=PAGE):
            times[contact_id].append(at)
    return times


# --- the result --------------------------------------------------------------------------------


def _result(
    window: Window,
    teams: dict[int, Team],
    handoffs: list[_Handoff],
    breaches: list[tuple[_Handoff, str]],
    touch_counts: Counter[tuple[str, str, str]],
) -> dict[str, Any]:
    def slug(team_id: int | None) -> str:
        team = teams.get(team_id) if team_id is not None else None
        return team.slug if team is not None else "—"

    counted = [h for h in handoffs if window.counts(h.team_id)]
    late = [(h, target) for h, target in breaches if window.counts(h.team_id)]
    by_rule: dict[str, int] = {}
    totals: Counter[str] = Counter()
    for (action, kind, rule), n in touch_counts.items():
        totals[action] += n
        if rule:
            by_rule[f"{action}|{kind}|{rule}"] = n
    return {
        "handoffs": {
            "total": len(counted),
            "by_trigger": dict(Counter(h.trigger for h in counted)),
            "by_team": dict(Counter(slug(h.team_id) for h in counted)),
            "by_priority": dict(Counter(h.priority for h in counted)),
            "by_trigger_team": dict(Counter(f"{h.trigger}|{slug(h.team_id)}" for h in counted)),
        },
        "touches": {
            "attempts": totals["attempts"],
            "sent": totals["sent"],
            "deferred": totals[TouchAction.DEFERRED],
            "suppressed": totals[TouchAction.SUPPRESSED],
            "blocked": totals[TouchAction.BLOCKED],
            "held": totals[TouchAction.HELD],
            "by_rule": by_rule,
        },
        "breaches": {
            "total": len(late),
            "by_team": dict(Counter(slug(h.team_id) for h, _ in late)),
            "by_target": dict(Counter(target for _, target in late)),
            "by_team_target": dict(Counter(f"{slug(h.team_id)}|{t}" for h, t in late)),
        },
    }
