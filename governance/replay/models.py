"""One replay of a draft rule set against the live one (docs/replay.md). The only row a replay
writes: its progress while it runs, then both columns of counts, or why it failed."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from governance.replay.choices import FINISHED, RunStatus

MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 90, 7
STALL_AFTER = timedelta(minutes=5)


class ReplayRun(models.Model):
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    draft_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The rule draft replayed (governance.versions)."
    )
    draft_title = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(
        default=list, blank=True, help_text="The draft's changes as replayed, one line each."
    )
    team = models.ForeignKey(
        "portal.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Counts only this team's handoffs, touches and breaches; empty: every team.",
    )
    days = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_DAYS), MaxValueValidator(MAX_DAYS)]
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life from the worker running it."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "-created_at"], name="replay_run_team_created")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(days__gte=MIN_DAYS, days__lte=MAX_DAYS),
                name="replay_run_days_in_range",
            )
        ]

    def __str__(self) -> str:
        return f"Replay #{self.pk} of {self.draft_title or 'the live rules'}"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def stalled(self) -> bool:
        """Waiting or running with no sign of life for STALL_AFTER: its worker stopped (a
        restart, a lost task). The page says so and stops polling."""
        if self.finished:
            return False
        last = self.heartbeat_at or self.started_at or self.created_at
        return last is not None and timezone.now() - last > STALL_AFTER

    @property
    def percent(self) -> int:
        if self.status == RunStatus.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0
