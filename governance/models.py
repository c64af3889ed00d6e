"""RM6 governance as data ops edit in admin. SLA policies and business-hours calendars: when a
team's clock runs, what each priority is due within, what happens on a breach, and what the bot
says after hours (docs/sla.md). Plain models, so a history library can version them."""

from __future__ import annotations

from datetime import time

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from governance.choices import BreachAction
from handoffs.choices import Priority
from portal.choices import Weekday

MAX_MINUTES = 525_600  # a year, as for a journey step's own SLA
MINUTES = [MinValueValidator(1), MaxValueValidator(MAX_MINUTES)]
AFTER_HOURS_REPLY = (
    "I've logged this for our team; a specialist will message you personally first thing in the "
    "morning."
)


class BusinessCalendar(models.Model):
    """When a team's SLA clock runs: a time zone, weekly opening periods, holidays, or 24/7
    (handoffs/sla.py reads it)."""

    name = models.CharField(max_length=100, unique=True)
    team = models.ForeignKey(
        "portal.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calendars",
        help_text="The team whose ops may edit it. Empty: shared by every team, edited only by "
        "superusers.",
    )
    time_zone = models.CharField(
        max_length=64,
        default="Europe/London",
        help_text="IANA name, e.g. Europe/London. Opening hours and holidays are read on this "
        "clock, so they follow its summer time.",
    )
    always_open = models.BooleanField(
        "open 24/7",
        default=False,
        help_text="Open every hour of every day: the opening periods are ignored, holidays "
        "still close.",
    )
    holiday_country = models.CharField(
        max_length=3,
        blank=True,
        help_text="Adds this country's public holidays, kept current by the holidays library "
        "(a code such as GB, US or DE).",
    )
    holiday_subdivision = models.CharField(
        max_length=10,
        blank=True,
        help_text="Optional region of that country, e.g. ENG or SCT for GB, CA for US.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OpeningPeriod(models.Model):
    """One stretch of opening hours that starts on a weekday. Several per day make a lunch
    break; an overnight period ends the next morning."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField(help_text="00:00 means midnight at the end of the day.")
    overnight = models.BooleanField(
        default=False, help_text="Runs past midnight: ends the next morning (22:00–06:00)."
    )

    class Meta:
        ordering = ["weekday", "starts"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="opening_period_weekday")
        ]

    def __str__(self) -> str:
        night = " (overnight)" if self.overnight else ""
        return f"{self.get_weekday_display()} {self.starts:%H:%M}–{self.ends:%H:%M}{night}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.starts is None or self.ends is None:
            return
        midnight = time(0)
        if self.overnight and self.ends > self.starts:
            raise ValidationError(
                {
                    "overnight": f"An overnight period ends the next morning, before it starts "
                    f"({self.starts:%H:%M}–{self.ends:%H:%M} is within one day): untick "
                    "overnight."
                }
            )
        if not self.overnight and self.ends <= self.starts and self.ends != midnight:
            raise ValidationError(
                {
                    "ends": f"Ends at {self.ends:%H:%M}, before it starts at {self.starts:%H:%M}. "
                    "Tick overnight for a period that runs past midnight."
                }
            )


class Holiday(models.Model):
    """A local date the calendar stays shut (in addition to its country's holidays)."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "date"],
                name="holiday_once_per_calendar",
                violation_error_message="This date is already a holiday of the calendar.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.date:%d %b %Y} {self.name}".strip()


class TeamHours(models.Model):
    """A team's business hours and what the bot tells a contact who reaches it after hours.
    A team without one is open 24/7 and sends no after-hours reply."""

    team = models.OneToOneField("portal.Team", on_delete=models.CASCADE, related_name="hours")
    calendar = models.ForeignKey(
        BusinessCalendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="teams",
        help_text="Empty: open 24/7.",
    )
    after_hours_reply_enabled = models.BooleanField(
        "send the after-hours reply",
        default=True,
        help_text="A handoff raised while the team is closed sends this reply to the contact "
        "once; its SLA clock starts at the next opening either way.",
    )
    after_hours_reply = models.CharField(max_length=500, default=AFTER_HOURS_REPLY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "team hours"
        verbose_name_plural = "team hours"
        ordering = ["team__name"]

    def __str__(self) -> str:
        return f"{self.team} hours"


class SlaPolicy(models.Model):
    """A team's due times for one priority, in minutes of business time on its calendar. A
    journey step's own SLA, then a handoff rule's own minutes, override the first reply; with
    no policy the team's default first-response minutes apply (docs/sla.md)."""

    team = models.ForeignKey("portal.Team", on_delete=models.CASCADE, related_name="sla_policies")
    priority = models.CharField(max_length=10, choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=MINUTES,
        help_text="Business minutes from raising (or the next opening) to the first human "
        "reply. Empty: the team's default.",
    )
    next_response_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=MINUTES,
        help_text="Business minutes from the contact's answer to the next human reply. Empty: "
        "no target.",
    )
    resolution_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=MINUTES,
        help_text="Business minutes from raising to resolved. Empty: no target.",
    )
    pause_while_waiting = models.BooleanField(
        "pause while waiting on the contact",
        default=True,
        help_text="The resolution clock stops while the handoff waits on the contact.",
    )
    on_breach = models.CharField(
        max_length=20, choices=BreachAction.choices, default=BreachAction.NOTIFY_LEAD
    )
    alerts_in_business_hours = models.BooleanField(
        "alert only in business hours",
        default=True,
        help_text="A breach outside the team's hours is flagged at once; the lead is notified "
        "(or given it) at the next opening.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["team__name", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "priority"],
                name="sla_policy_one_per_team_priority",
                violation_error_message="This team already has an SLA policy for this priority.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.team} · {self.get_priority_display()}"


class HandoffRuleSla(models.Model):
    """A handoff rule's own first-reply target, over its team's policy (a £50,000 budget may
    deserve ten minutes whatever the priority says)."""

    rule = models.OneToOneField(
        "journeys.HandoffRule", on_delete=models.CASCADE, related_name="sla"
    )
    first_response_minutes = models.PositiveIntegerField(
        validators=MINUTES, help_text="Business minutes to the first human reply."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "handoff rule SLA"
        verbose_name_plural = "handoff rule SLAs"
        ordering = ["rule__name"]

    def __str__(self) -> str:
        return f"{self.rule}: {self.first_response_minutes} min"


from governance.policies.models import *  # noqa: E402, F403  (caps, quiet hours, tone, approvals)
from governance.versions.models import *  # noqa: E402, F403  (drafts and the rule audit)
