"""The guardrails ops edit in admin (caps, quiet hours, tone rules) and what they did (touch
decisions, approvals). Plain models, so a history library can version them later.

A rule with no team is organisation-wide (superusers edit it); with a team it governs that
team's automated touches. Caps always count the contact's automated touches from every team.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from governance.policies.choices import (
    ApprovalDecision,
    ExpiryAction,
    PolicyAction,
    PromiseKind,
    RuleKind,
    ToneKind,
    TouchAction,
    WindowUnit,
)
from handoffs.choices import Channel

__all__ = ["Approval", "FrequencyCap", "QuietHours", "ToneRule", "TouchDecision"]

MAX_APPROVAL_MINUTES = 30 * 24 * 60


def _team_field() -> models.ForeignKey:
    return models.ForeignKey(
        "portal.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: organisation-wide (only superusers edit it). With a team: governs "
        "that team's automated touches.",
    )


def _channels_field() -> models.JSONField:
    return models.JSONField(
        default=list, blank=True, help_text="The channels it applies to; none ticked: every one."
    )


def _check_channels(value: object) -> list[str]:
    if not isinstance(value, list) or any(c not in Channel.values for c in value):
        return [f"Channels must be a list of {', '.join(Channel.values)}."]
    return []


class FrequencyCap(models.Model):
    """At most `limit` automated touches per contact within a rolling window, counted across
    every team (on the channels it names); a touch over it is deferred or suppressed."""

    name = models.CharField(max_length=100)
    team = _team_field()
    channels = _channels_field()
    limit = models.PositiveIntegerField(
        help_text="Touches allowed in the window (counted across every team). 0: never send."
    )
    window_amount = models.PositiveIntegerField(
        "window", validators=[MinValueValidator(1), MaxValueValidator(8760)]
    )
    window_unit = models.CharField(max_length=5, choices=WindowUnit.choices, default="days")
    action = models.CharField(
        max_length=10, choices=PolicyAction.choices, default=PolicyAction.DEFER
    )
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "frequency cap"

    def __str__(self) -> str:
        return self.name

    @property
    def window(self) -> timedelta:
        unit = "hours" if self.window_unit == WindowUnit.HOURS else "days"
        return timedelta(**{unit: self.window_amount or 0})

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.window_amount is not None and self.window_amount < 1:
            errors["window_amount"] = ["The window must be at least 1 hour or day."]
        if channel_errors := _check_channels(self.channels):
            errors["channels"] = channel_errors
        if errors:
            raise ValidationError(errors)


class QuietHours(models.Model):
    """No automated touch between `starts` and `ends` in the contact's own time zone, on the
    weekdays ticked (the day the quiet period starts). Overlapping periods are allowed: a touch
    waits until every one that objects is over."""

    name = models.CharField(max_length=100)
    team = _team_field()
    channels = _channels_field()
    starts = models.TimeField(help_text="Local time in the contact's zone, e.g. 21:00.")
    ends = models.TimeField(help_text="Earlier than the start: runs past midnight (21:00–08:00).")
    weekdays = models.JSONField(
        default=list,
        blank=True,
        help_text="Days the quiet period starts on (0 = Monday); none ticked: every day.",
    )
    action = models.CharField(
        max_length=10, choices=PolicyAction.choices, default=PolicyAction.DEFER
    )
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "quiet hours"
        verbose_name_plural = "quiet hours"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.starts is not None and self.starts == self.ends:
            errors["ends"] = [
                f"Starts and ends at {self.starts:%H:%M}: a quiet period needs two different "
                "times (ends before it starts to run past midnight)."
            ]
        if channel_errors := _check_channels(self.channels):
            errors["channels"] = channel_errors
        days = self.weekdays
        if not isinstance(days, list) or any(
            not isinstance(d, int) or not 0 <= d <= 6 for d in days
        ):
            errors["weekdays"] = ["Weekdays must be a list of 0 (Monday) … 6 (Sunday)."]
        if errors:
            raise ValidationError(errors)


class ToneRule(models.Model):
    """Standards for automated (and AI-drafted) text: banned phrases block a send, a missing
    disclosure is appended, a promise sends the text to a person for approval."""

    name = models.CharField(max_length=100)
    team = _team_field()
    kind = models.CharField(max_length=12, choices=ToneKind.choices)
    phrases = models.TextField(
        blank=True,
        help_text="One per line. Banned: the words or phrases automation may not use. "
        "Disclosure: accepted wordings, the first being the one appended when none is there. "
        "Promise: extra phrases that count as a promise.",
    )
    channels = _channels_field()
    promise_kinds = models.JSONField(
        default=list,
        blank=True,
        help_text="Promise rules: which built-in detectors run (prices, discounts, dates, "
        "features); none ticked: all of them.",
    )
    approval_expires_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_APPROVAL_MINUTES)],
        help_text="Promise rules: how long a held message waits for a person. Empty: the "
        "default (BATON_APPROVAL_EXPIRY_MINUTES).",
    )
    expiry_action = models.CharField(
        max_length=10,
        choices=ExpiryAction.choices,
        blank=True,
        help_text="Promise rules: what happens when nobody decided in time. Empty: the default "
        "(BATON_APPROVAL_EXPIRY_ACTION).",
    )
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = "tone rule"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display().lower()})"

    @property
    def phrase_list(self) -> tuple[str, ...]:
        return tuple(line.strip() for line in (self.phrases or "").splitlines() if line.strip())

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.kind == ToneKind.DISCLOSURE and not self.phrase_list:
            errors["phrases"] = ["A disclosure rule needs a wording: the line appended to texts."]
        if self.kind == ToneKind.BANNED and not self.phrase_list:
            errors["phrases"] = ["List at least one banned word or phrase, one per line."]
        if channel_errors := _check_channels(self.channels):
            errors["channels"] = channel_errors
        kinds = self.promise_kinds
        if not isinstance(kinds, list) or any(k not in PromiseKind.values for k in kinds):
            errors["promise_kinds"] = [f"Promise kinds are {', '.join(PromiseKind.values)}."]
        if errors:
            raise ValidationError(errors)


class TouchDecision(models.Model):
    """The log: one row per automated touch governance deferred, suppressed, blocked or held,
    and one when a deferred touch finally went out. Counted by rule and period."""

    contact = models.ForeignKey(
        "journeys.Contact", on_delete=models.CASCADE, related_name="touch_decisions"
    )
    enrollment = models.ForeignKey(
        "journeys.Enrollment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    step = models.CharField(max_length=50, blank=True)
    team = models.ForeignKey(
        "portal.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The team the touch belonged to (the journey step's owner), if any.",
    )
    message = models.ForeignKey(
        "handoffs.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="touch_decisions",
        help_text="The queued message (deferred touches); none when nothing was queued.",
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    action = models.CharField(max_length=20, choices=TouchAction.choices)
    rule_kind = models.CharField(max_length=20, choices=RuleKind.choices)
    rule_name = models.CharField(max_length=100)
    rule_id = models.PositiveBigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    text = models.TextField(blank=True, help_text="What automation meant to send.")
    defer_until = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(
        null=True, blank=True, help_text="Deferred touches: when the outcome was recorded."
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "touch decision"
        indexes = [
            models.Index(fields=["rule_kind", "rule_id", "created_at"], name="touch_by_rule"),
            models.Index(fields=["created_at", "action"], name="touch_by_period"),
            models.Index(fields=["contact", "-created_at"], name="touch_by_contact"),
            models.Index(
                fields=["defer_until"],
                condition=Q(action=TouchAction.DEFERRED, settled_at__isnull=True),
                name="touch_deferred_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.rule_name}"


class Approval(models.Model):
    """One held automated message: its `approval` handoff, the text automation wrote and why it
    was held; a person approves, edits or rejects it, or it expires with its default action."""

    handoff = models.ForeignKey(
        "handoffs.Handoff", on_delete=models.CASCADE, related_name="approvals"
    )
    contact = models.ForeignKey("journeys.Contact", on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(
        "journeys.Enrollment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    step = models.CharField(max_length=50, blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    to_address = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True)
    original_text = models.TextField(help_text="As automation would send it (disclosure added).")
    findings = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    expiry_action = models.CharField(max_length=10, choices=ExpiryAction.choices)
    decision = models.CharField(
        max_length=10, choices=ApprovalDecision.choices, default=ApprovalDecision.PENDING
    )
    expired = models.BooleanField(
        default=False, help_text="Decided by its expiry default, not by a person."
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    edited_text = models.TextField(blank=True)
    message = models.ForeignKey(
        "handoffs.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The message that went out, once approved.",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(decision=ApprovalDecision.PENDING),
                name="approval_pending_expiry",
            )
        ]

    def __str__(self) -> str:
        return f"Approval #{self.pk} ({self.get_decision_display()})"

    @property
    def is_pending(self) -> bool:
        return self.decision == ApprovalDecision.PENDING

    @property
    def sent_text(self) -> str:
        return self.edited_text or self.original_text
