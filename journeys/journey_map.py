"""Reads for the journey map (/journeys/ and /journeys/<id>/): each stage as a column with the
live version's steps in it, how many contacts sit at each step now, and per stage over a period
the time contacts spent in it (median, p90) and how many dropped off (PRODUCT.md's KPIs).

Stays in a stage come from StageVisit: time-in-stage measures stays that ended in the period;
drop-off counts stays that began in the period and ended with the contact leaving the journey
(dropped, or unenrolled by a person), over all stays that began in it."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q

from journeys.choices import (
    LIVE_ENROLLMENT_STATUSES,
    EnrollmentStatus,
    LoopStage,
    StepKind,
    StepMode,
)
from journeys.engine import stage_key
from journeys.models import Enrollment, Journey, JourneyVersion, Stage, StageVisit
from portal.models import Team
from portal.periods import Period
from portal.timefmt import duration_label

DROP_OUTCOMES = ("dropped", "unenrolled")


@dataclass(frozen=True)
class StepCard:
    key: str
    kind: str
    kind_label: str
    mode: str
    mode_label: str
    team: str
    summary: str
    active: int
    paused: int

    @property
    def here(self) -> int:
        return self.active + self.paused


@dataclass(frozen=True)
class StageFigures:
    entered: int = 0
    moved_on: int = 0
    completed: int = 0
    dropped: int = 0
    measured: int = 0  # stays that ended in the period, which time-in-stage is taken over
    median: timedelta | None = None
    p90: timedelta | None = None

    @property
    def drop_off(self) -> float | None:
        return self.dropped / self.entered if self.entered else None

    @property
    def drop_off_label(self) -> str:
        rate = self.drop_off
        return "—" if rate is None else f"{rate:.0%}"

    @property
    def median_label(self) -> str:
        return duration_label(self.median)

    @property
    def p90_label(self) -> str:
        return duration_label(self.p90)


@dataclass(frozen=True)
class StageColumn:
    stage: Stage | None  # None: a stage of the live version that ops have since deleted
    key: str
    name: str
    loop_stage: str
    loop_label: str
    now: int
    figures: StageFigures
    steps: list[StepCard] = field(default_factory=list)


@dataclass(frozen=True)
class JourneyMap:
    journey: Journey
    version: JourneyVersion | None
    columns: list[StageColumn]
    live: int
    paused: int
    older_versions: dict[int, int]  # version number -> live contacts still running it
    elsewhere: int  # live contacts at steps the live version no longer has


@dataclass(frozen=True)
class JourneySummary:
    journey: Journey
    version: JourneyVersion | None
    stages: list[Stage]
    live: int
    paused: int
    completed: int
    dropped: int


def journeys_overview(*, period: Period) -> list[JourneySummary]:
    """Every journey with its live count and its endings in the period: four queries in all."""
    journeys = list(Journey.objects.prefetch_related("stages"))
    versions: dict[int, JourneyVersion] = {}
    for version in JourneyVersion.objects.order_by("number").only(
        "id", "journey_id", "number", "published_at"
    ):
        versions[version.journey_id] = version
    live = Counter[tuple[int, str]]()
    for row in (
        Enrollment.objects.filter(status__in=LIVE_ENROLLMENT_STATUSES)
        .values("journey_id", "status")
        .annotate(n=Count("id"))
    ):
        live[(row["journey_id"], row["status"])] = row["n"]
    ended = Counter[tuple[int, str]]()
    for row in (
        StageVisit.objects.filter(
            left_at__gte=period.since,
            left_at__lt=period.until,
            outcome__in=["completed", *DROP_OUTCOMES],
        )
        .values("journey_id", "outcome")
        .annotate(n=Count("id"))
    ):
        outcome = "dropped" if row["outcome"] in DROP_OUTCOMES else row["outcome"]
        ended[(row["journey_id"], outcome)] += row["n"]
    summaries = [
        JourneySummary(
            journey=j,
            version=versions.get(j.pk),
            stages=sorted(j.stages.all(), key=lambda s: (s.order, s.pk)),
            live=live[(j.pk, EnrollmentStatus.ACTIVE)]
            + live[(j.pk, EnrollmentStatus.PAUSED_FOR_HUMAN)],
            paused=live[(j.pk, EnrollmentStatus.PAUSED_FOR_HUMAN)],
            completed=ended[(j.pk, "completed")],
            dropped=ended[(j.pk, "dropped")],
        )
        for j in journeys
    ]
    return sorted(summaries, key=_loop_order)


LOOP_ORDER = [choice.value for choice in LoopStage]


def _loop_order(summary: JourneySummary) -> tuple[bool, int, str]:
    """Active journeys first, in the order of the Loop their first stage belongs to."""
    first = summary.stages[0].loop_stage if summary.stages else None
    position = LOOP_ORDER.index(first) if first in LOOP_ORDER else len(LOOP_ORDER)
    return (not summary.journey.is_active, position, summary.journey.name)


def journey_map(*, journey: Journey, period: Period) -> JourneyMap:
    """The map of one journey as its live version runs it (a draft not yet published is not
    shown: contacts cannot be in it). A fixed number of queries, whatever the size."""
    version = journey.versions.order_by("-number").first()
    stages = list(journey.stages.order_by("order", "id"))
    definition: Mapping[str, Any] = version.definition if version else {}
    teams = dict(Team.objects.values_list("slug", "name"))

    at_step: Counter[tuple[str, str]] = Counter()
    on_version: Counter[int] = Counter()
    now_in_stage: Counter[int] = Counter()
    for row in (
        Enrollment.objects.filter(journey=journey, status__in=LIVE_ENROLLMENT_STATUSES)
        .values("step", "status", "version_id", "stage_id")
        .annotate(n=Count("id"))
    ):
        at_step[(row["step"], row["status"])] += row["n"]
        on_version[row["version_id"]] += row["n"]
        now_in_stage[row["stage_id"]] += row["n"]

    figures = _stage_figures(journey=journey, period=period)
    columns = _columns(definition, stages, figures, now_in_stage)
    placed: set[str] = set()
    by_key = {c.key: c for c in columns}
    for step in definition.get("steps", []):
        column = by_key.get(step.get("stage"))
        if column is None:
            continue
        key = step.get("key", "")
        placed.add(key)
        column.steps.append(
            _card(
                step,
                teams,
                active=at_step[(key, EnrollmentStatus.ACTIVE)],
                paused=at_step[(key, EnrollmentStatus.PAUSED_FOR_HUMAN)],
            )
        )
    numbers = dict(
        JourneyVersion.objects.filter(pk__in=[v for v in on_version if v]).values_list(
            "pk", "number"
        )
    )
    older = {numbers[v]: n for v, n in on_version.items() if v and version and v != version.pk}
    live = sum(at_step.values())
    paused = sum(n for (_, status), n in at_step.items() if status != EnrollmentStatus.ACTIVE)
    elsewhere = sum(n for (step, _), n in at_step.items() if step not in placed)
    return JourneyMap(
        journey, version, columns, live, paused, dict(sorted(older.items())), elsewhere
    )


def _columns(
    definition: Mapping[str, Any],
    stages: list[Stage],
    figures: dict[int, StageFigures],
    now_in_stage: Counter[int],
) -> list[StageColumn]:
    """The live version's stages in order, matched to today's stage rows (by id, else key)."""
    by_id = {s.pk: s for s in stages}
    by_key = {stage_key(s): s for s in stages}
    loop_labels = dict(LoopStage.choices)
    entries = definition.get("stages") or [
        {"key": stage_key(s), "id": s.pk, "name": s.name, "loop_stage": s.loop_stage}
        for s in stages
    ]
    columns = []
    for entry in entries:
        stage = by_id.get(entry.get("id")) or by_key.get(entry.get("key"))
        loop = stage.loop_stage if stage else entry.get("loop_stage", "")
        columns.append(
            StageColumn(
                stage=stage,
                key=entry.get("key", ""),
                name=stage.name if stage else entry.get("name", ""),
                loop_stage=loop,
                loop_label=str(loop_labels.get(loop, loop)),
                now=now_in_stage[stage.pk] if stage else 0,
                figures=figures.get(stage.pk, StageFigures()) if stage else StageFigures(),
            )
        )
    return columns


def _stage_figures(*, journey: Journey, period: Period) -> dict[int, StageFigures]:
    began = Q(entered_at__gte=period.since, entered_at__lt=period.until)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for row in (
        StageVisit.objects.filter(began, journey=journey)
        .values("stage_id", "outcome")
        .annotate(n=Count("id"))
    ):
        counts[row["stage_id"]][row["outcome"]] += row["n"]
    stays: dict[int, list[float]] = defaultdict(list)
    for stage_id, entered_at, left_at in StageVisit.objects.filter(
        journey=journey, left_at__gte=period.since, left_at__lt=period.until
    ).values_list("stage_id", "entered_at", "left_at"):
        stays[stage_id].append((left_at - entered_at).total_seconds())
    result = {}
    for stage_id in counts.keys() | stays.keys():
        outcomes = counts[stage_id]
        seconds = sorted(stays[stage_id])
        result[stage_id] = StageFigures(
            entered=sum(outcomes.values()),
            moved_on=outcomes["advanced"],
            completed=outcomes["completed"],
            dropped=sum(outcomes[o] for o in DROP_OUTCOMES),
            measured=len(seconds),
            median=timedelta(seconds=statistics.median(seconds)) if seconds else None,
            p90=timedelta(seconds=_p90(seconds)) if seconds else None,
        )
    return result


def _p90(sorted_seconds: list[float]) -> float:
    """The 90th percentile, interpolated between the closest ranks (as spreadsheets do)."""
    if len(sorted_seconds) == 1:
        return sorted_seconds[0]
    return statistics.quantiles(sorted_seconds, n=10, method="inclusive")[-1]


KIND_LABELS = dict(StepKind.choices)
MODE_LABELS = dict(StepMode.choices)


def _card(step: Mapping[str, Any], teams: dict[str, str], *, active: int, paused: int) -> StepCard:
    kind = str(step.get("kind", ""))
    mode = str(step.get("mode") or StepMode.AUTOMATION)
    config = step.get("config") if isinstance(step.get("config"), Mapping) else {}
    team_slug = config.get("team") or step.get("team") or ""
    return StepCard(
        key=str(step.get("key", "")),
        kind=kind,
        kind_label=str(KIND_LABELS.get(kind, kind)),
        mode=mode,
        mode_label=str(MODE_LABELS.get(mode, mode)),
        team=teams.get(team_slug, team_slug),
        summary=step_summary(kind, config),
        active=active,
        paused=paused,
    )


def _short(text: object, limit: int = 90) -> str:
    value = " ".join(str(text or "").split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _minutes_label(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return duration_label(timedelta(minutes=value))
    return ""


def step_summary(kind: str, config: Mapping[str, Any]) -> str:
    """One line saying what a step does, for the map."""
    channel = config.get("channel") or "auto"
    via = "the contact's channel" if channel == "auto" else channel
    if kind == StepKind.SEND_MESSAGE:
        return f"By {via}: “{_short(config.get('template'))}”"
    if kind == StepKind.ASK:
        return f"Asks by {via}: “{_short(config.get('question'))}”"
    if kind == StepKind.WAIT:
        until = config.get("until")
        what = "a reply" if until == "reply" else f"signal {until}" if until else ""
        length = _minutes_label(config.get("minutes"))
        if what and length:
            return f"Waits for {what}, at most {length}"
        return f"Waits for {what}" if what else f"Waits {length}"
    if kind == StepKind.BRANCH:
        return f"If the condition holds → {config.get('then')}, else → {config.get('else')}"
    if kind == StepKind.HANDOFF:
        parts = [
            str(config.get("trigger") or "stage"),
            f"{config.get('priority') or 'normal'} priority",
        ]
        if sla := _minutes_label(config.get("sla_minutes")):
            parts.append(f"first response within {sla}")
        return "Hands off: " + ", ".join(parts)
    if kind == StepKind.UPDATE_FIELDS:
        fields = config.get("set") if isinstance(config.get("set"), Mapping) else {}
        return "Sets " + (", ".join(sorted(fields)) or "nothing")
    if kind == StepKind.ADVANCE_STAGE:
        return f"Moves to stage {config.get('stage')}"
    if kind == StepKind.END:
        return "Ends: " + ("dropped" if config.get("outcome") == "dropped" else "completed")
    return ""
