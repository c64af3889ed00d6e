"""Reads for the dashboard. The page reads the rollups only (a fixed handful of queries over
at most days × teams × dimensions rows, whatever the size of the raw tables); the drill-down
lists read the handoffs behind a number with the same conditions the rollups counted.

Visibility: the teams the user holds VIEW_DASHBOARD on (portal/roles.py). A team filter for any
other team answers 404. Journey figures (stages, automated touches, governance decisions without
a team, outcome signals) belong to journeys rather than teams and are shown to every dashboard
user, as the journey maps are."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from urllib.parse import urlencode

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek
from django.http import Http404, QueryDict
from django.utils import timezone

from governance.dashboard import histogram
from governance.dashboard.choices import DurationMetric, TouchKind
from governance.dashboard.definitions import HANDOFF_METRICS, OUTCOME_RATES
from governance.dashboard.models import (
    Capability,
    DurationDaily,
    HandoffDaily,
    OutcomeDaily,
    RefreshState,
    StageDaily,
    SuppressionDaily,
    TouchDaily,
)
from governance.policies.choices import RuleKind, TouchAction
from handoffs.choices import Priority, Trigger
from handoffs.models import Handoff
from journeys.choices import LoopStage
from journeys.models import Journey
from portal.errors import security_log
from portal.models import Team
from portal.periods import Period, period_parse
from portal.roles import VIEW_DASHBOARD
from portal.selectors import teams_with_perm

LOOP_LABELS = dict(LoopStage.choices)
TRIGGER_LABELS = dict(Trigger.choices)
PRIORITY_LABELS = dict(Priority.choices)
RULE_KIND_LABELS = dict(RuleKind.choices)
STOPS = (TouchAction.DEFERRED, TouchAction.SUPPRESSED, TouchAction.BLOCKED)


# ---- filters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFilters:
    period: Period
    teams: list[Team]  # every team whose dashboard the user may see
    team: Team | None = None
    journeys: list[tuple[int, str]] = field(default_factory=list)
    journey_id: int | None = None

    @property
    def team_ids(self) -> list[int]:
        return [self.team.pk] if self.team else [t.pk for t in self.teams]

    @property
    def start(self) -> date:
        return self.period.start_date

    @property
    def end(self) -> date:
        return self.period.end_date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def step(self) -> str:
        """The trend charts' step: a day up to a month, a week up to half a year, else a month."""
        return "day" if self.days <= 31 else "week" if self.days <= 200 else "month"

    @property
    def journey_name(self) -> str:
        return dict(self.journeys).get(self.journey_id or 0, "")

    def params(self, **overrides: Any) -> dict[str, str]:
        """The filters as query parameters (overrides of None drop a parameter)."""
        values: dict[str, Any] = {}
        if self.period.key == "custom":
            values["from"] = f"{self.start:%Y-%m-%d}"
            values["to"] = f"{self.end:%Y-%m-%d}"
        else:
            values["period"] = self.period.key
        if self.team:
            values["team"] = self.team.slug
        if self.journey_id:
            values["journey"] = str(self.journey_id)
        values.update(overrides)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    def query(self, **overrides: Any) -> str:
        return urlencode(self.params(**overrides))

    def bounds(self) -> tuple[datetime, datetime]:
        """The instants the period's whole days span, in the site's time zone."""
        zone = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, dtime.min, tzinfo=zone),
            datetime.combine(self.end + timedelta(days=1), dtime.min, tzinfo=zone),
        )


def dashboard_teams(*, user: Any) -> list[Team]:
    return list(teams_with_perm(principal=user, codename=VIEW_DASHBOARD).order_by("name"))


def dashboard_filters(*, user: Any, query: QueryDict) -> tuple[DashboardFilters, str | None]:
    """The filters asked for and an error to show when part of the request made no sense (that
    part falls back to its default). A team the user may not see answers 404."""
    period, error = period_parse(query)
    teams = dashboard_teams(user=user)
    team = None
    slug = query.get("team", "")
    if slug:
        team = next((t for t in teams if t.slug == slug), None)
        if team is None:
            security_log.info("denied dashboard team %r to user %s", slug[:50], user.pk)
            raise Http404("No such team.")
    journeys = list(Journey.objects.order_by("name").values_list("id", "name"))
    journey_id = None
    raw = query.get("journey", "")
    if raw:
        if not raw.isdigit() or int(raw) not in dict(journeys):
            raise Http404("No such journey.")
        journey_id = int(raw)
    return DashboardFilters(period, teams, team, journeys, journey_id), error


# ---- figures ------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class HandoffTotals:
    raised: int = 0
    responded: int = 0
    sla_met: int = 0
    sla_missed: int = 0
    breached: int = 0
    resolved: int = 0
    handed_back: int = 0

    def __add__(self, other: HandoffTotals) -> HandoffTotals:
        return HandoffTotals(*(a + b for a, b in zip(_vals(self), _vals(other), strict=True)))

    @property
    def adherence(self) -> float | None:
        return _share(self.sla_met, self.sla_met + self.sla_missed)

    @property
    def resolved_share(self) -> float | None:
        return _share(self.resolved, self.raised)

    @property
    def handback_rate(self) -> float | None:
        return _share(self.handed_back, self.resolved)


def _vals(totals: HandoffTotals) -> tuple[int, ...]:
    return (
        totals.raised,
        totals.responded,
        totals.sla_met,
        totals.sla_missed,
        totals.breached,
        totals.resolved,
        totals.handed_back,
    )


HANDOFF_SUMS = {
    "raised": Sum("raised"),
    "responded": Sum("responded"),
    "sla_met": Sum("sla_met"),
    "sla_missed": Sum("sla_missed"),
    "breached": Sum("breached"),
    "resolved": Sum("resolved"),
    "handed_back": Sum("handed_back"),
}


def _totals(row: dict[str, Any]) -> HandoffTotals:
    return HandoffTotals(**{k: int(row.get(k) or 0) for k in HANDOFF_SUMS})


@dataclass(frozen=True)
class Breakdown:
    key: str
    label: str
    totals: HandoffTotals


@dataclass(frozen=True)
class DurationFigures:
    counts: dict[int, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    @property
    def median(self) -> timedelta | None:
        return histogram.quantile(self.counts, 0.5)

    @property
    def p90(self) -> timedelta | None:
        return histogram.quantile(self.counts, 0.9)


@dataclass(frozen=True)
class StageRow:
    loop_stage: str
    label: str
    entered: int = 0
    dropped: int = 0
    durations: DurationFigures = field(default_factory=DurationFigures)
    automated: int = 0
    human: int = 0
    inbound: int = 0

    @property
    def drop_off(self) -> float | None:
        return _share(self.dropped, self.entered)

    @property
    def median(self) -> timedelta | None:
        return self.durations.median

    @property
    def p90(self) -> timedelta | None:
        return self.durations.p90

    @property
    def automated_share(self) -> float | None:
        return _share(self.automated, self.automated + self.human)

    @property
    def reply_rate(self) -> float | None:
        return _share(self.inbound, self.automated)


@dataclass(frozen=True)
class RuleRow:
    kind: str
    kind_label: str
    name: str
    rule_id: int | None
    actions: dict[str, int]

    @property
    def stopped(self) -> int:
        return sum(self.actions.get(a, 0) for a in STOPS)

    @property
    def held(self) -> int:
        return self.actions.get(TouchAction.HELD, 0)


@dataclass(frozen=True)
class OutcomeRate:
    key: str
    label: str
    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        return _share(self.numerator, self.denominator)


@dataclass(frozen=True)
class TrendPoint:
    start: date
    handoffs: HandoffTotals = field(default_factory=HandoffTotals)
    first_response: DurationFigures = field(default_factory=DurationFigures)
    automated: int = 0
    human: int = 0


@dataclass(frozen=True)
class Figures:
    filters: DashboardFilters
    handoffs: HandoffTotals
    by_trigger: list[Breakdown]
    by_team: list[Breakdown]
    by_priority: list[Breakdown]
    durations: dict[str, DurationFigures]
    stages: list[StageRow]
    stage_total: StageRow
    mix_total: StageRow
    rules: list[RuleRow]
    stopped: int
    held: int
    outcomes: dict[str, OutcomeRate]
    trend: list[TrendPoint]
    refreshed_at: datetime | None

    @property
    def stop_rate(self) -> float | None:
        """Touches governance stopped ÷ the automated touches it was asked about."""
        return _share(self.stopped, self.stopped + self.mix_total.automated)

    @property
    def age_seconds(self) -> int | None:
        if self.refreshed_at is None:
            return None
        return max(0, int((timezone.now() - self.refreshed_at).total_seconds()))


def _step_of(filters: DashboardFilters) -> Any:
    if filters.step == "week":
        return TruncWeek("day")
    if filters.step == "month":
        return TruncMonth("day")
    return None


def _step_key(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def _steps(filters: DashboardFilters) -> list[date]:
    """Every step's first day in the period, so a quiet week still shows on the chart."""
    starts: list[date] = []
    day = filters.start
    while day <= filters.end:
        if filters.step == "week":
            key = day - timedelta(days=day.weekday())
        elif filters.step == "month":
            key = day.replace(day=1)
        else:
            key = day
        if not starts or starts[-1] != key:
            starts.append(key)
        day += timedelta(days=1)
    return starts


def dashboard_figures(*, filters: DashboardFilters) -> Figures:
    """Every number on the page, from the rollups: eight queries."""
    in_period = Q(day__gte=filters.start, day__lte=filters.end)
    team_ids = filters.team_ids
    step = _step_of(filters)
    step_expr = step if step is not None else F("day")
    on_journey = Q(journey_id=filters.journey_id) if filters.journey_id else Q()
    journey_or_team = on_journey & (Q(team__isnull=True) | Q(team_id__in=team_ids))

    # 1. handoffs by team, trigger and priority
    by_key: dict[tuple[int, str, str], HandoffTotals] = {}
    for row in (
        HandoffDaily.objects.filter(in_period, team_id__in=team_ids)
        .values("team_id", "trigger", "priority")
        .annotate(**HANDOFF_SUMS)
        .order_by()
    ):
        by_key[(row["team_id"], row["trigger"], row["priority"])] = _totals(row)
    total = sum(by_key.values(), HandoffTotals())

    def breakdown(index: int, labels: dict[Any, str]) -> list[Breakdown]:
        sums: dict[Any, HandoffTotals] = defaultdict(HandoffTotals)
        for key, totals in by_key.items():
            sums[key[index]] = sums[key[index]] + totals
        order = list(labels)
        return [
            Breakdown(str(k), labels.get(k, str(k)), sums[k])
            for k in sorted(sums, key=lambda k: order.index(k) if k in order else len(order))
        ]

    team_labels = {t.pk: t.name for t in filters.teams}
    team_slugs = {t.pk: t.slug for t in filters.teams}
    trend: dict[date, TrendPoint] = {start: TrendPoint(start) for start in _steps(filters)}

    # 2. handoffs over time
    for row in (
        HandoffDaily.objects.filter(in_period, team_id__in=team_ids)
        .annotate(step=step_expr)
        .values("step")
        .annotate(**HANDOFF_SUMS)
        .order_by()
    ):
        key = _step_key(row["step"])
        if key in trend:
            trend[key] = replace(trend[key], handoffs=_totals(row))

    # 3. durations: handoff metrics by team, time-in-stage by journey
    counts: dict[str, dict[int, int]] = defaultdict(dict)
    stage_counts: dict[str, dict[int, int]] = defaultdict(dict)
    step_counts: dict[date, dict[int, int]] = defaultdict(dict)
    handoff_metrics = [DurationMetric.FIRST_RESPONSE, DurationMetric.SPEED_TO_LEAD]
    for row in (
        DurationDaily.objects.filter(in_period)
        .filter(
            Q(metric__in=handoff_metrics, team_id__in=team_ids)
            | (Q(metric=DurationMetric.TIME_IN_STAGE) & on_journey)
        )
        .annotate(step=step_expr)
        .values("metric", "loop_stage", "step", "bucket")
        .annotate(n=Sum("n"))
        .order_by()
    ):
        bucket, n = row["bucket"], int(row["n"])
        metric = row["metric"]
        _add(counts[metric], bucket, n)
        if metric == DurationMetric.TIME_IN_STAGE:
            _add(stage_counts[row["loop_stage"]], bucket, n)
        elif metric == DurationMetric.FIRST_RESPONSE:
            _add(step_counts[_step_key(row["step"])], bucket, n)
    for key, bucket_counts in step_counts.items():
        if key in trend:
            trend[key] = replace(trend[key], first_response=DurationFigures(bucket_counts))
    durations = {m: DurationFigures(counts.get(m, {})) for m in DurationMetric.values}

    # 4. stage stays
    stage_rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in (
        StageDaily.objects.filter(in_period, on_journey)
        .values("loop_stage")
        .annotate(entered=Sum("entered"), dropped=Sum("dropped"))
        .order_by()
    ):
        stage_rows[row["loop_stage"]]["entered"] += int(row["entered"])
        stage_rows[row["loop_stage"]]["dropped"] += int(row["dropped"])

    # 5. touches by stage, kind and step
    for row in (
        TouchDaily.objects.filter(in_period, journey_or_team)
        .annotate(step=step_expr)
        .values("loop_stage", "kind", "step")
        .annotate(n=Sum("n"))
        .order_by()
    ):
        n = int(row["n"])
        stage_rows[row["loop_stage"]][row["kind"]] += n
        key = _step_key(row["step"])
        if key in trend and row["kind"] != TouchKind.INBOUND:
            point = trend[key]
            trend[key] = replace(
                point,
                automated=point.automated + (n if row["kind"] == TouchKind.AUTOMATED else 0),
                human=point.human + (n if row["kind"] == TouchKind.HUMAN else 0),
            )
    stages = [
        _stage_row(loop, label, stage_rows.get(loop, {}), stage_counts.get(loop, {}))
        for loop, label in LoopStage.choices
    ]
    outside = _stage_row("", "Not in a journey", stage_rows.get("", {}), {})
    stage_total = _stage_row(
        "all", "All stages", _sum_rows(stage_rows), counts.get("time_in_stage", {})
    )
    if outside.automated or outside.human or outside.inbound:
        stages.append(outside)

    # 6. governance decisions by rule
    rules: dict[tuple[str, int | None, str], dict[str, int]] = defaultdict(dict)
    for row in (
        SuppressionDaily.objects.filter(in_period, journey_or_team)
        .values("rule_kind", "rule_id", "rule_name", "action")
        .annotate(n=Sum("n"))
        .order_by()
    ):
        actions = rules[(row["rule_kind"], row["rule_id"], row["rule_name"])]
        actions[row["action"]] = actions.get(row["action"], 0) + int(row["n"])
    rule_rows = sorted(
        (
            RuleRow(kind, str(RULE_KIND_LABELS.get(kind, kind)), name, rule_id, actions)
            for (kind, rule_id, name), actions in rules.items()
        ),
        key=lambda r: (-r.stopped, -r.held, r.name),
    )

    # 7. outcome signals
    signals: dict[str, int] = defaultdict(int)
    for row in (
        OutcomeDaily.objects.filter(in_period).values("signal_type").annotate(n=Sum("n")).order_by()
    ):
        signals[row["signal_type"]] += int(row["n"])
    outcomes = {
        key: OutcomeRate(key, label, signals[top], sum(signals[s] for s in bottom))
        for key, (label, top, bottom) in OUTCOME_RATES.items()
    }

    # 8. how fresh
    refreshed_at = RefreshState.objects.filter(pk=1).values_list("refreshed_at", flat=True).first()

    return Figures(
        filters=filters,
        handoffs=total,
        by_trigger=breakdown(1, TRIGGER_LABELS),
        by_team=[replace(b, key=team_slugs[int(b.key)]) for b in breakdown(0, team_labels)],
        by_priority=list(reversed(breakdown(2, PRIORITY_LABELS))),
        durations=durations,
        stages=stages,
        stage_total=stage_total,
        mix_total=stage_total,
        rules=rule_rows,
        stopped=sum(r.stopped for r in rule_rows),
        held=sum(r.held for r in rule_rows),
        outcomes=outcomes,
        trend=list(trend.values()),
        refreshed_at=refreshed_at,
    )


def _add(counts: dict[int, int], bucket: int, n: int) -> None:
    counts[bucket] = counts.get(bucket, 0) + n


def _sum_rows(rows: dict[str, dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for values in rows.values():
        for key, n in values.items():
            total[key] += n
    return total


def _stage_row(
    loop: str, label: str, values: dict[str, int], bucket_counts: dict[int, int]
) -> StageRow:
    return StageRow(
        loop_stage=loop,
        label=str(label),
        entered=values.get("entered", 0),
        dropped=values.get("dropped", 0),
        durations=DurationFigures(dict(bucket_counts)),
        automated=values.get(TouchKind.AUTOMATED, 0),
        human=values.get(TouchKind.HUMAN, 0),
        inbound=values.get(TouchKind.INBOUND, 0),
    )


def capabilities() -> list[Capability]:
    return list(Capability.objects.all())


# ---- drill-down ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillDown:
    metric: str
    label: str
    trigger: str
    priority: str


def drilldown_parse(query: QueryDict) -> DrillDown:
    """Which number's handoffs to list; anything unknown answers 404, like a foreign team."""
    metric = query.get("metric", "raised")
    trigger = query.get("trigger", "")
    priority = query.get("priority", "")
    if metric not in HANDOFF_METRICS:
        raise Http404("No such figure.")
    if trigger and trigger not in TRIGGER_LABELS:
        raise Http404("No such trigger.")
    if priority and priority not in PRIORITY_LABELS:
        raise Http404("No such priority.")
    return DrillDown(metric, HANDOFF_METRICS[metric][0], trigger, priority)


def handoffs_behind(*, filters: DashboardFilters, drill: DrillDown) -> QuerySet[Handoff]:
    """The handoffs a handoff number counted: raised in the period's days by the teams in view,
    meeting the number's condition (governance/dashboard/definitions.py), newest first."""
    since, until = filters.bounds()
    handoffs = Handoff.objects.filter(
        HANDOFF_METRICS[drill.metric][1],
        team_id__in=filters.team_ids,
        created_at__gte=since,
        created_at__lt=until,
    )
    if drill.trigger:
        handoffs = handoffs.filter(trigger=drill.trigger)
    if drill.priority:
        handoffs = handoffs.filter(priority=drill.priority)
    return handoffs.select_related("team", "contact", "assignee").order_by("-created_at", "-pk")
