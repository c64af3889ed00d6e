from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from handoffs.choices import (
    ACTIVE_STATUSES,
    Channel,
    Direction,
    HandoffEventKind,
    HandoffStatus,
    OutboxStatus,
    Priority,
    SlaTarget,
    Trigger,
)
from handoffs.sla import Clock, running_clock
from handoffs.triage.choices import FaqStatus, PhraseKind, TriageLabel
from handoffs.triage.defaults import (
    ANGRY_AT_MOST,
    ASSISTANT_SIGNATURE,
    FAQ_MATCH_AT_LEAST,
    HOLDING_REPLY,
    POSITIVE_AT_LEAST,
)
from portal.choices import Role


class Handoff(models.Model):
    team = models.ForeignKey("portal.Team", on_delete=models.PROTECT, related_name="handoffs")
    contact = models.ForeignKey(
        "journeys.Contact", on_delete=models.CASCADE, related_name="handoffs"
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    reason = models.CharField(max_length=600)
    evidence = models.JSONField(default=list, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(
        max_length=20, choices=HandoffStatus.choices, default=HandoffStatus.OPEN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_handoffs",
    )
    offered_to_role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    rule = models.ForeignKey(
        "journeys.HandoffRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signal = models.ForeignKey(
        "journeys.Signal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    first_response_due_at = models.DateTimeField()
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    resume_automation = models.BooleanField(null=True, blank=True)
    breached = models.BooleanField(default=False)
    escalated = models.BooleanField(default=False)
    # The SLA clock (docs/sla.md): due times are UTC instants counted in the team's business
    # time; `sla_due_at` is whichever runs out first, and the breach sweep watches it.
    sla_started_at = models.DateTimeField(
        null=True, blank=True, help_text="Raised, or the next opening when raised after hours."
    )
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(
        null=True, blank=True, help_text="Waiting on the contact with the clock stopped, since."
    )
    sla_paused_seconds = models.PositiveIntegerField(
        default=0, help_text="Business time the clock has spent paused."
    )
    after_hours_replied_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    breached_target = models.CharField(max_length=20, choices=SlaTarget.choices, blank=True)
    escalation_due_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the breach is escalated (the next opening when "
        "alerts wait for business hours).",
    )

    class Meta:
        constraints = [
            # Race-safe "attach as evidence": two signals racing to raise the same handoff hit
            # this index; the loser attaches to the winner (handoffs/services/).
            models.UniqueConstraint(
                fields=["contact", "trigger"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="handoff_one_active_per_contact_trigger",
            )
        ]
        indexes = [
            models.Index(
                fields=["team", "first_response_due_at", "id"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="handoff_active_team_due",
            ),
            # The inbox: by the running SLA clock (handoffs/selectors.py inbox_queryset).
            # PostgreSQL sorts ascending NULLS LAST by default, as the inbox asks. It carries
            # what the page orders and counts by, so both are index-only scans at scale
            # (docs/performance-plans.md); SQLite ignores `include`.
            models.Index(
                fields=["team", "sla_due_at", "id"],
                include=["assignee", "offered_to_role", "trigger", "priority"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="handoff_inbox_team_sla",
            ),
            models.Index(
                fields=["assignee", "first_response_due_at"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="handoff_active_assignee_due",
            ),
            models.Index(fields=["contact", "-created_at"], name="handoff_contact_created"),
            # The dashboard's rollup refresh rebuilds (day raised, team) buckets and computes
            # business-time first responses for what was answered since its last run.
            models.Index(fields=["created_at"], name="handoff_created"),
            models.Index(
                fields=["first_responded_at"],
                condition=Q(first_responded_at__isnull=False),
                name="handoff_first_responded",
            ),
            # The SLA sweep's two queries (handoffs/services/breaches.py).
            # (due, id): the sweep's `ORDER BY due, id LIMIT n` stops after n rows even when
            # thousands share one due time (a backlog after an outage), instead of sorting them.
            models.Index(
                fields=["sla_due_at", "id"],
                condition=Q(status__in=ACTIVE_STATUSES, breached=False),
                name="handoff_sla_due_unbreached",
            ),
            models.Index(
                fields=["escalation_due_at", "id"],
                condition=Q(status__in=ACTIVE_STATUSES, escalated=False)
                & Q(escalation_due_at__isnull=False),
                name="handoff_escalation_due",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_trigger_display()} for {self.contact_id}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def sla_clock(self) -> Clock | None:
        """The due time that runs out first (first reply, next reply or resolution), or None
        while nothing runs."""
        return running_clock(
            first_response_due=self.first_response_due_at,
            first_responded=self.first_responded_at is not None,
            next_response_due=self.next_response_due_at,
            resolution_due=self.resolution_due_at,
            paused=self.sla_paused_at is not None,
        )


class HandoffEvent(models.Model):
    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=HandoffEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on handoff {self.handoff_id}"


class Conversation(models.Model):
    """One thread per contact across channels; replies go out on its `channel`."""

    contact = models.OneToOneField(
        "journeys.Contact", on_delete=models.CASCADE, related_name="conversation"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Conversation with contact {self.contact_id}"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    handoff = models.ForeignKey(
        Handoff, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    subject = models.CharField(max_length=200, blank=True, help_text="Email only.")
    body = models.TextField()
    automated = models.BooleanField(default=False)
    enrollment = models.ForeignKey(
        "journeys.Enrollment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The journey that sent it, when automation did.",
    )
    step = models.CharField(max_length=50, blank=True, help_text="The journey step that sent it.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 (NULL = none; unique when set)
    sentiment = models.FloatField(
        null=True, blank=True, help_text="VADER compound score of an inbound message (−1…+1)."
    )
    triage = models.CharField(
        max_length=20,
        choices=TriageLabel.choices,
        blank=True,
        help_text="What triage made of an inbound message (docs/triage.md).",
    )
    triage_phrase = models.CharField(
        max_length=200, blank=True, help_text="The phrase that decided the label, if one did."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=Q(external_id__isnull=False),
                name="message_external_id_per_channel",
            )
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="message_thread"),
            # The dashboard's touches by day (governance/dashboard/refresh.py).
            models.Index(fields=["created_at"], name="message_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.get_channel_display()} #{self.pk}"


class OutboxEntry(models.Model):
    """A message waiting to leave. Persisted with the message; delivered by a task; a lease
    (`lease_until`) keeps two workers from sending it at once, and the sweep retries the rest."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="outbox")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    to_address = models.CharField(max_length=254)
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    backend = models.CharField(max_length=100, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outbox entry"
        verbose_name_plural = "outbox"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=[OutboxStatus.QUEUED, OutboxStatus.SENDING]),
                name="outbox_pending_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to_address} ({self.status})"


class TriagePhrase(models.Model):
    """A phrase that labels an inbound message (docs/triage.md). Matching ignores case,
    punctuation and apostrophes and looks at whole words only."""

    kind = models.CharField(max_length=20, choices=PhraseKind.choices)
    phrase = models.CharField(max_length=200)
    whole_message = models.BooleanField(
        default=False,
        help_text="Counts only when it is the entire message (courtesy words aside), e.g. a "
        "bare “STOP” text.",
    )
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "phrase"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "phrase", "whole_message"], name="triage_phrase_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.phrase}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from handoffs.triage.text import words

        if not words(self.phrase):
            raise ValidationError({"phrase": "A phrase needs at least one word."})


class TriageSettings(models.Model):
    """One row (pk 1): the thresholds and wording triage uses."""

    angry_at_most = models.FloatField(
        default=ANGRY_AT_MOST,
        help_text="A VADER compound score at or below this reads as angry (−1…+1).",
    )
    positive_at_least = models.FloatField(
        default=POSITIVE_AT_LEAST,
        help_text="A VADER compound score at or above this reads as positive (−1…+1).",
    )
    faq_match_at_least = models.FloatField(
        default=FAQ_MATCH_AT_LEAST,
        help_text="A question whose best FAQ entry scores at least this (0…1) is answered by "
        "the bot; below it a specialist is asked.",
    )
    holding_reply = models.CharField(
        max_length=500,
        default=HOLDING_REPLY,
        help_text="Sent when a question goes to a specialist.",
    )
    assistant_signature = models.CharField(
        max_length=200,
        default=ASSISTANT_SIGNATURE,
        help_text="Ends every message the bot writes, so contacts know it is automated.",
    )
    default_team = models.ForeignKey(
        "portal.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Gets handoffs for contacts no team owns yet (no handoff, no journey step); "
        "empty means the first team.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "triage settings"
        verbose_name_plural = "triage settings"

    def __str__(self) -> str:
        return "Triage settings"


class FaqEntry(models.Model):
    """The knowledge base the bot answers questions from. Only approved entries are used;
    candidates come from answered complexity handoffs and wait for ops to review them."""

    question = models.CharField(max_length=500)
    answer = models.TextField()
    keywords = models.CharField(
        max_length=500, blank=True, help_text="Other words people use for this (space-separated)."
    )
    status = models.CharField(max_length=20, choices=FaqStatus.choices, default=FaqStatus.CANDIDATE)
    source_handoff = models.ForeignKey(
        Handoff, null=True, blank=True, on_delete=models.SET_NULL, related_name="faq_entries"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"
        ordering = ["status", "question"]

    def __str__(self) -> str:
        return self.question


class HandoffViewer(models.Model):
    """Presence: one row per open handoff page (per websocket), so every web process sees who is
    looking. Rows whose `last_seen` is older than the presence TTL are ignored and pruned, so a
    process that died without a disconnect cannot leave a ghost viewer (handoffs/presence.py)."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200, unique=True)
    joined_at = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["handoff", "last_seen"], name="viewer_handoff_seen"),
            models.Index(fields=["last_seen"], name="viewer_last_seen"),
        ]

    def __str__(self) -> str:
        return f"User {self.user_id} viewing handoff {self.handoff_id}"


class ReplyLock(models.Model):
    """The soft reply lock: "Riley is replying…". At most one per handoff (the unique handoff
    settles two people starting to type at once); live until `expires_at`, renewed while the
    holder types. Soft: anyone allowed to reply may send over it after confirming."""

    handoff = models.OneToOneField(Handoff, on_delete=models.CASCADE, related_name="+")
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200, help_text="The socket that took it.")
    taken_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"User {self.holder_id} replying to handoff {self.handoff_id}"
