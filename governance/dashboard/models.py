"""The dashboard's rollups and the maturity capabilities (docs/dashboard.md).

Rollup rows are written only by `governance.dashboard.refresh.rollups_refresh`, which recomputes
whole (day, team) or (day, journey) buckets; the page reads nothing else. Days are dates in the
site's time zone. A handoff's figures live on the day it was raised, so a late first reply
changes that day's bucket, not today's."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from governance.dashboard.choices import DurationMetric, Kpi, Level, TouchKind
from governance.policies.choices import RuleKind, TouchAction
from handoffs.choices import Priority, Trigger
from journeys.choices import LoopStage


class RefreshState(models.Model):
    """One row (pk 1): how far the rollups have read, and when they last caught up. Its row
    lock is what keeps two refreshes from running at once."""

    watermark = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    took_ms = models.PositiveIntegerField(default=0)
    buckets = models.PositiveIntegerField(default=0, help_text="Buckets the last run recomputed.")

    def __str__(self) -> str:
        return f"Rollups as of {self.refreshed_at}"


class ResponseTime(models.Model):
    """A handoff's first response time in its team's business time, computed once (in Python,
    on the team calendar) when the first reply is seen; the rollups aggregate it in SQL."""

    handoff = models.OneToOneField(
        "handoffs.Handoff", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    business_seconds = models.FloatField()
    responded_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Handoff {self.handoff_id}: {self.business_seconds:.0f} s"


class HandoffDaily(models.Model):
    """Handoffs raised on `day` by team, trigger and priority, and what became of them."""

    day = models.DateField()
    team = models.ForeignKey("portal.Team", on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    priority = models.CharField(max_length=10, choices=Priority.choices)
    raised = models.PositiveIntegerField(default=0)
    responded = models.PositiveIntegerField(default=0)
    sla_met = models.PositiveIntegerField(default=0)
    sla_missed = models.PositiveIntegerField(default=0)
    breached = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    handed_back = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "handoff daily rollups"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "team", "trigger", "priority"], name="rollup_handoff_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} team {self.team_id} {self.trigger}/{self.priority}"


class DurationDaily(models.Model):
    """How many durations of a metric fell in each histogram bucket (histogram.py) on a day:
    handoff metrics by the day the handoff was raised and its team; time-in-stage by the day
    the stay ended, its journey and Loop stage."""

    metric = models.CharField(max_length=20, choices=DurationMetric.choices)
    day = models.DateField()
    team = models.ForeignKey(
        "portal.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    journey = models.ForeignKey(
        "journeys.Journey", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    loop_stage = models.CharField(max_length=10, choices=LoopStage.choices, blank=True)
    bucket = models.PositiveSmallIntegerField()
    n = models.PositiveIntegerField()

    class Meta:
        verbose_name_plural = "duration daily rollups"
        indexes = [models.Index(fields=["metric", "day"], name="rollup_duration_metric_day")]

    def __str__(self) -> str:
        return f"{self.metric} {self.day} bucket {self.bucket}: {self.n}"


class StageDaily(models.Model):
    """Stays that began on `day` in a journey's Loop stage, and how many of them ended with the
    contact leaving the journey (journeys/journey_map.py's drop-off)."""

    day = models.DateField()
    journey = models.ForeignKey("journeys.Journey", on_delete=models.CASCADE, related_name="+")
    loop_stage = models.CharField(max_length=10, choices=LoopStage.choices)
    entered = models.PositiveIntegerField(default=0)
    dropped = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "stage daily rollups"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "journey", "loop_stage"], name="rollup_stage_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} journey {self.journey_id} {self.loop_stage}"


class TouchDaily(models.Model):
    """Messages on `day`: automated and human touches out, and contacts' replies in, by the
    Loop stage (and journey) the contact was in then, and the handoff's team for a person's."""

    day = models.DateField()
    team = models.ForeignKey(
        "portal.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    journey = models.ForeignKey(
        "journeys.Journey", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    loop_stage = models.CharField(max_length=10, choices=LoopStage.choices, blank=True)
    kind = models.CharField(max_length=10, choices=TouchKind.choices)
    n = models.PositiveIntegerField()

    class Meta:
        verbose_name_plural = "touch daily rollups"
        indexes = [models.Index(fields=["day"], name="rollup_touch_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: {self.n}"


class SuppressionDaily(models.Model):
    """Governance decisions on automated touches on `day`, by rule and action."""

    day = models.DateField()
    team = models.ForeignKey(
        "portal.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    journey = models.ForeignKey(
        "journeys.Journey", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    rule_kind = models.CharField(max_length=20, choices=RuleKind.choices)
    rule_id = models.PositiveBigIntegerField(null=True, blank=True)
    rule_name = models.CharField(max_length=100)
    action = models.CharField(max_length=20, choices=TouchAction.choices)
    n = models.PositiveIntegerField()

    class Meta:
        verbose_name_plural = "suppression daily rollups"
        indexes = [models.Index(fields=["day"], name="rollup_suppression_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.rule_name} {self.action}: {self.n}"


class OutcomeDaily(models.Model):
    """Outcome signals (leads, meetings, deals won and lost, renewals due and done) that
    occurred on `day`."""

    day = models.DateField()
    signal_type = models.CharField(max_length=64)
    n = models.PositiveIntegerField()

    class Meta:
        verbose_name_plural = "outcome daily rollups"
        constraints = [
            models.UniqueConstraint(fields=["day", "signal_type"], name="rollup_outcome_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.signal_type}: {self.n}"


class Capability(models.Model):
    """One of the six hybrid-journey capabilities (PRODUCT.md). Ops choose the KPI it is rated
    on and the four thresholds between the five levels; the dashboard measures the KPI over its
    period and rates it (governance/dashboard/maturity.py)."""

    key = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    order = models.PositiveSmallIntegerField(default=0)
    owner = models.CharField(max_length=100, help_text="Who owns this capability.")
    ad_hoc = models.CharField(max_length=200, help_text="What ad hoc looks like.")
    operationalised = models.CharField(max_length=200, help_text="What operationalised looks like.")
    kpi = models.CharField(
        "primary KPI", max_length=30, choices=Kpi.choices, help_text="What the rating is on."
    )
    developing_at = models.FloatField(help_text="The KPI value that makes it Developing.")
    defined_at = models.FloatField(help_text="… Defined.")
    managed_at = models.FloatField(help_text="… Managed.")
    operationalised_at = models.FloatField(help_text="… Operationalised.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name_plural = "capabilities"

    def __str__(self) -> str:
        return self.name

    @property
    def thresholds(self) -> tuple[float, float, float, float]:
        return (self.developing_at, self.defined_at, self.managed_at, self.operationalised_at)

    def clean(self) -> None:
        from governance.dashboard.maturity import KPIS, thresholds_problem

        if self.kpi not in KPIS:
            return
        problem = thresholds_problem(self.thresholds, higher_is_better=KPIS[self.kpi].higher)
        if problem:
            raise ValidationError({"operationalised_at": problem})


LEVEL_LABELS = dict(Level.choices)
