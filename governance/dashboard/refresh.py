"""`rollups_refresh`: keeps the dashboard's rollups current (docs/dashboard.md, "Rollups").

Incremental: it finds the buckets — (day, team) for handoffs, (day, journey) for stage stays,
days for touches, governance decisions and outcome signals — that any row touched since its
watermark (less a LOOKBACK for transactions that committed late) belongs to, deletes those
buckets and rebuilds them with one INSERT … SELECT each, so the work is set-based and a bucket
is always the aggregate of its rows, however often it is rebuilt. A handoff's bucket is the day
it was raised, so a late first reply rebuilds that old day.

Safe to run twice at once: the run holds RefreshState's row lock for its whole transaction, and
a second run that finds it held returns at once (the first will have done the work)."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from django.db import transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models import Value as V
from django.db.models.functions import Coalesce
from django.utils import timezone

from governance.dashboard.choices import DurationMetric, TouchKind
from governance.dashboard.definitions import (
    DROP_OUTCOMES,
    HANDED_BACK,
    OUTCOME_SIGNALS,
    RESOLVED,
    RESPONDED,
    SLA_MET,
    SLA_MISSED,
)
from governance.dashboard.models import (
    DurationDaily,
    HandoffDaily,
    OutcomeDaily,
    RefreshState,
    ResponseTime,
    StageDaily,
    SuppressionDaily,
    TouchDaily,
)
from governance.dashboard.sql import SecondsBetween, bucket_expression, insert_select, local_day
from governance.policies.models import TouchDecision
from governance.selectors import team_calendar
from handoffs.choices import Direction
from handoffs.models import Handoff, Message
from handoffs.sla import Calendar, business_time_between
from journeys.models import Signal, StageVisit

log = logging.getLogger("baton.dashboard")

# A row written by a transaction that began before the last run's watermark but committed after
# it still carries an earlier time: each run looks this far behind its watermark.
LOOKBACK = timedelta(minutes=2)
CHUNK = 2000


@dataclass(frozen=True)
class RefreshResult:
    skipped: bool  # another refresh held the lock
    buckets: int = 0  # buckets rebuilt
    took_ms: int = 0


def rollups_refresh(*, full: bool = False) -> RefreshResult:
    """Bring every rollup up to date. `full` rebuilds every bucket (the first run does anyway;
    beat does once a day, which also drops what deleted rows left behind)."""
    started = time.monotonic()
    with transaction.atomic():
        # One run at a time: the row lock is held until this transaction ends; a concurrent
        # run skips rather than waiting to redo the same buckets.
        state = RefreshState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if state is None:
            if RefreshState.objects.filter(pk=1).exists():
                return RefreshResult(skipped=True)
            RefreshState.objects.get_or_create(pk=1)
            state = RefreshState.objects.select_for_update().get(pk=1)
        now = timezone.now()
        since = None if full or state.watermark is None else state.watermark - LOOKBACK
        _response_times(since)
        buckets = (
            _handoffs(since)
            + _stages(since)
            + _touches(since)
            + _suppressions(since)
            + _outcomes(since)
        )
        took = int((time.monotonic() - started) * 1000)
        RefreshState.objects.filter(pk=1).update(
            watermark=now, refreshed_at=now, took_ms=took, buckets=buckets
        )
    log.info("rollups refreshed: %s buckets in %s ms", buckets, took)
    return RefreshResult(skipped=False, buckets=buckets, took_ms=took)


# ---- buckets ------------------------------------------------------------------------------


def _bounds(day: date) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, dtime.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), dtime.min, tzinfo=zone)


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days merged into (first, last) runs."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _source_scope(field: str, keys: dict[int | None, set[date]], key_field: str | None) -> Q:
    """Rows of the source table whose instant `field` falls on one of the key's days."""
    scope = Q(pk__in=[])
    for key, days in keys.items():
        for first, last in _runs(days):
            during = Q(**{f"{field}__gte": _bounds(first)[0], f"{field}__lt": _bounds(last)[1]})
            scope |= (Q(**{key_field: key}) & during) if key_field else during
    return scope


def _rollup_scope(keys: dict[int | None, set[date]], key_field: str | None) -> Q:
    scope = Q(pk__in=[])
    for key, days in keys.items():
        during = Q(day__in=sorted(days))
        scope |= (Q(**{key_field: key}) & during) if key_field else during
    return scope


def _keys(rows: Iterable[tuple[int | None, date | None]]) -> dict[int | None, set[date]]:
    keys: dict[int | None, set[date]] = defaultdict(set)
    for key, day in rows:
        if day is not None:
            keys[key].add(day)
    return keys


def _count(keys: dict[int | None, set[date]]) -> int:
    return sum(len(days) for days in keys.values())


# ---- handoffs -----------------------------------------------------------------------------


def _response_times(since: datetime | None) -> None:
    """Business-time first responses for handoffs first answered since `since` (all, on a full
    rebuild) that have none yet for that reply: Python over new replies only (the calendar
    arithmetic is handoffs/sla.py's), once per handoff, so even a full rebuild reuses them."""
    known = ResponseTime.objects.filter(
        handoff_id=OuterRef("pk"), responded_at=OuterRef("first_responded_at")
    )
    answered = Handoff.objects.filter(first_responded_at__isnull=False).exclude(Exists(known))
    if since is not None:
        answered = answered.filter(first_responded_at__gte=since)
    calendars: dict[int, Calendar] = {}
    batch: list[ResponseTime] = []
    for pk, team_id, created, started, responded in answered.values_list(
        "pk", "team_id", "created_at", "sla_started_at", "first_responded_at"
    ).iterator(chunk_size=CHUNK):
        if team_id not in calendars:
            calendars[team_id] = team_calendar(team_id=team_id)
        start = started or created
        seconds = (
            business_time_between(start, responded, calendars[team_id]).total_seconds()
            if responded > start
            else 0.0
        )
        batch.append(ResponseTime(handoff_id=pk, business_seconds=seconds, responded_at=responded))
        if len(batch) >= CHUNK:
            _save_response_times(batch)
            batch = []
    _save_response_times(batch)


def _save_response_times(batch: list[ResponseTime]) -> None:
    if batch:
        ResponseTime.objects.bulk_create(
            batch,
            update_conflicts=True,
            unique_fields=["handoff"],
            update_fields=["business_seconds", "responded_at"],
        )


def _handoffs(since: datetime | None) -> int:
    if since is None:
        HandoffDaily.objects.all().delete()
        DurationDaily.objects.exclude(metric=DurationMetric.TIME_IN_STAGE).delete()
        scope = Q()
        n = 0
    else:
        touched = (
            Q(created_at__gte=since)
            | Q(updated_at__gte=since)
            | Q(claimed_at__gte=since)
            | Q(first_responded_at__gte=since)
            | Q(resolved_at__gte=since)
            | Q(breached_at__gte=since)
        )
        keys = _keys(
            Handoff.objects.filter(touched)
            .annotate(d=local_day("created_at"))
            .values_list("team_id", "d")
            .distinct()
        )
        if not keys:
            return 0
        HandoffDaily.objects.filter(_rollup_scope(keys, "team_id")).delete()
        DurationDaily.objects.filter(
            _rollup_scope(keys, "team_id"),
            metric__in=[DurationMetric.FIRST_RESPONSE, DurationMetric.SPEED_TO_LEAD],
        ).delete()
        scope = _source_scope("created_at", keys, "team_id")
        n = _count(keys)
    handoffs = Handoff.objects.filter(scope)
    daily = (
        handoffs.annotate(
            r_day=local_day("created_at"),
            r_team=F("team_id"),
            r_trigger=F("trigger"),
            r_priority=F("priority"),
        )
        .values("r_day", "r_team", "r_trigger", "r_priority")
        .annotate(
            r_raised=Count("pk"),
            r_responded=Count("pk", filter=RESPONDED),
            r_met=Count("pk", filter=SLA_MET),
            r_missed=Count("pk", filter=SLA_MISSED),
            r_breached=Count("pk", filter=Q(breached=True)),
            r_resolved=Count("pk", filter=RESOLVED),
            r_back=Count("pk", filter=HANDED_BACK),
        )
        .order_by()
    )
    insert_select(
        HandoffDaily,
        {
            "r_day": "day",
            "r_team": "team",
            "r_trigger": "trigger",
            "r_priority": "priority",
            "r_raised": "raised",
            "r_responded": "responded",
            "r_met": "sla_met",
            "r_missed": "sla_missed",
            "r_breached": "breached",
            "r_resolved": "resolved",
            "r_back": "handed_back",
        },
        daily,
    )
    first = ResponseTime.objects.filter(
        handoff__in=handoffs.filter(RESPONDED).values("pk")
    ).annotate(
        r_metric=V(DurationMetric.FIRST_RESPONSE, output_field=CharField()),
        r_day=local_day("handoff__created_at"),
        r_owner=F("handoff__team_id"),
        r_loop=V("", output_field=CharField()),
        r_bucket=bucket_expression(F("business_seconds")),
    )
    _insert_durations(first)
    speed = handoffs.filter(RESPONDED, signal__isnull=False).annotate(
        r_metric=V(DurationMetric.SPEED_TO_LEAD, output_field=CharField()),
        r_day=local_day("created_at"),
        r_owner=F("team_id"),
        r_loop=V("", output_field=CharField()),
        r_bucket=bucket_expression(SecondsBetween("signal__occurred_at", "first_responded_at")),
    )
    _insert_durations(speed)
    return HandoffDaily.objects.count() if since is None else n


def _insert_durations(queryset: QuerySet[Any], *, journey: bool = False) -> None:
    """Durations counted per bucket; `r_owner` is the team, or the journey for stays."""
    grouped = (
        queryset.values("r_metric", "r_day", "r_owner", "r_loop", "r_bucket")
        .annotate(r_n=Count("pk"))
        .order_by()
    )
    insert_select(
        DurationDaily,
        {
            "r_metric": "metric",
            "r_day": "day",
            "r_owner": "journey" if journey else "team",
            "r_loop": "loop_stage",
            "r_bucket": "bucket",
            "r_n": "n",
        },
        grouped,
    )


# ---- journeys -----------------------------------------------------------------------------


def _stages(since: datetime | None) -> int:
    if since is None:
        StageDaily.objects.all().delete()
        DurationDaily.objects.filter(metric=DurationMetric.TIME_IN_STAGE).delete()
        entered_scope = left_scope = Q()
        n = 0
    else:
        moved = StageVisit.objects.filter(Q(entered_at__gte=since) | Q(left_at__gte=since))
        entered_keys = _keys(
            moved.annotate(d=local_day("entered_at")).values_list("journey_id", "d").distinct()
        )
        left_keys = _keys(
            moved.filter(left_at__isnull=False)
            .annotate(d=local_day("left_at"))
            .values_list("journey_id", "d")
            .distinct()
        )
        if not entered_keys and not left_keys:
            return 0
        StageDaily.objects.filter(_rollup_scope(entered_keys, "journey_id")).delete()
        DurationDaily.objects.filter(
            _rollup_scope(left_keys, "journey_id"), metric=DurationMetric.TIME_IN_STAGE
        ).delete()
        entered_scope = _source_scope("entered_at", entered_keys, "journey_id")
        left_scope = _source_scope("left_at", left_keys, "journey_id")
        n = _count(entered_keys) + _count(left_keys)
    stays = (
        StageVisit.objects.filter(entered_scope)
        .annotate(
            r_day=local_day("entered_at"),
            r_journey=F("journey_id"),
            r_loop=F("stage__loop_stage"),
        )
        .values("r_day", "r_journey", "r_loop")
        .annotate(
            r_entered=Count("pk"),
            r_dropped=Count("pk", filter=Q(outcome__in=DROP_OUTCOMES)),
        )
        .order_by()
    )
    insert_select(
        StageDaily,
        {
            "r_day": "day",
            "r_journey": "journey",
            "r_loop": "loop_stage",
            "r_entered": "entered",
            "r_dropped": "dropped",
        },
        stays,
    )
    ended = StageVisit.objects.filter(left_scope, left_at__isnull=False).annotate(
        r_metric=V(DurationMetric.TIME_IN_STAGE, output_field=CharField()),
        r_day=local_day("left_at"),
        r_owner=F("journey_id"),
        r_loop=F("stage__loop_stage"),
        r_bucket=bucket_expression(SecondsBetween("entered_at", "left_at")),
    )
    _insert_durations(ended, journey=True)
    if since is None:
        n = StageDaily.objects.count()
    return n


def _stay_then(match: dict[str, object], value: str) -> Subquery:
    """`value` of the stage stay the contact was in when the message went out."""
    return Subquery(
        StageVisit.objects.filter(**match, entered_at__lte=OuterRef("created_at"))
        .filter(Q(left_at__isnull=True) | Q(left_at__gt=OuterRef("created_at")))
        .order_by("-entered_at", "-pk")
        .values(value)[:1]
    )


def _days_touched(model: type, field: str, since: datetime | None, **extra: object) -> set[date]:
    rows = model.objects.filter(**{f"{field}__gte": since}, **extra)  # type: ignore[attr-defined]
    return set(rows.annotate(d=local_day(field)).values_list("d", flat=True).distinct())


def _touches(since: datetime | None) -> int:
    if since is None:
        TouchDaily.objects.all().delete()
        scope = Q()
    else:
        days = _days_touched(Message, "created_at", since)
        if not days:
            return 0
        TouchDaily.objects.filter(day__in=sorted(days)).delete()
        scope = _source_scope("created_at", {None: days}, None)
    by_enrollment = {"enrollment_id": OuterRef("enrollment_id")}
    by_contact = {"enrollment__contact_id": OuterRef("conversation__contact_id")}
    touches = (
        Message.objects.filter(scope)
        .annotate(
            r_day=local_day("created_at"),
            r_team=F("handoff__team_id"),
            r_journey=Coalesce(
                _stay_then(by_enrollment, "journey_id"),
                _stay_then(by_contact, "journey_id"),
                output_field=IntegerField(),
            ),
            r_loop=Coalesce(
                _stay_then(by_enrollment, "stage__loop_stage"),
                _stay_then(by_contact, "stage__loop_stage"),
                V(""),
                output_field=CharField(),
            ),
            r_kind=Case(
                When(direction=Direction.IN, then=V(TouchKind.INBOUND)),
                When(automated=True, then=V(TouchKind.AUTOMATED)),
                default=V(TouchKind.HUMAN),
                output_field=CharField(),
            ),
        )
        .values("r_day", "r_team", "r_journey", "r_loop", "r_kind")
        .annotate(r_n=Count("pk"))
        .order_by()
    )
    insert_select(
        TouchDaily,
        {
            "r_day": "day",
            "r_team": "team",
            "r_journey": "journey",
            "r_loop": "loop_stage",
            "r_kind": "kind",
            "r_n": "n",
        },
        touches,
    )
    return TouchDaily.objects.count() if since is None else len(days)


def _suppressions(since: datetime | None) -> int:
    if since is None:
        SuppressionDaily.objects.all().delete()
        scope = Q()
    else:
        # Decisions are counted by the day they were made; settling one changes no count (a
        # deferred touch that went out is a decision of its own).
        days = _days_touched(TouchDecision, "created_at", since)
        if not days:
            return 0
        SuppressionDaily.objects.filter(day__in=sorted(days)).delete()
        scope = _source_scope("created_at", {None: days}, None)
    decisions = (
        TouchDecision.objects.filter(scope)
        .annotate(
            r_day=local_day("created_at"),
            r_team=F("team_id"),
            r_journey=F("enrollment__journey_id"),
            r_kind=F("rule_kind"),
            r_rule=F("rule_id"),
            r_name=F("rule_name"),
            r_action=F("action"),
        )
        .values("r_day", "r_team", "r_journey", "r_kind", "r_rule", "r_name", "r_action")
        .annotate(r_n=Count("pk"))
        .order_by()
    )
    insert_select(
        SuppressionDaily,
        {
            "r_day": "day",
            "r_team": "team",
            "r_journey": "journey",
            "r_kind": "rule_kind",
            "r_rule": "rule_id",
            "r_name": "rule_name",
            "r_action": "action",
            "r_n": "n",
        },
        decisions,
    )
    return SuppressionDaily.objects.count() if since is None else len(days)


def _outcomes(since: datetime | None) -> int:
    if since is None:
        OutcomeDaily.objects.all().delete()
        scope = Q()
    else:
        arrived = Signal.objects.filter(type__in=OUTCOME_SIGNALS, received_at__gte=since)
        days = set(
            arrived.annotate(d=local_day("occurred_at")).values_list("d", flat=True).distinct()
        )
        if not days:
            return 0
        OutcomeDaily.objects.filter(day__in=sorted(days)).delete()
        scope = _source_scope("occurred_at", {None: days}, None)
    outcomes = (
        Signal.objects.filter(scope, type__in=OUTCOME_SIGNALS)
        .annotate(r_day=local_day("occurred_at"), r_type=F("type"))
        .values("r_day", "r_type")
        .annotate(r_n=Count("pk"))
        .order_by()
    )
    insert_select(OutcomeDaily, {"r_day": "day", "r_type": "signal_type", "r_n": "n"}, outcomes)
    return OutcomeDaily.objects.count() if since is None else len(days)
