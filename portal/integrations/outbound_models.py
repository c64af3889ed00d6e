"""Integrations out: webhook subscribers, team notification channels (Slack, Microsoft Teams) and
the one delivery table both go through (docs/integrations.md, "Integrations: out").

Imported at the end of portal/integrations/models.py, so these are models of the `portal` app."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.db.models import Q

from handoffs.choices import Priority

# Every event type an outbound webhook can subscribe to (docs/api.md, "Outbound events").
OUTBOUND_EVENT_TYPES = (
    "handoff.created",
    "handoff.updated",
    "enrollment.started",
    "enrollment.stage_changed",
    "enrollment.paused",
    "enrollment.resumed",
    "enrollment.completed",
    "enrollment.dropped",
    "message.received",
    "message.sent",
    "message.failed",
)

PRIORITY_ORDER = {p: n for n, p in enumerate(Priority.values)}  # low < normal < high < urgent


def event_type_matches(pattern: str, event_type: str) -> bool:
    """`*` (everything), `handoff.*` (a family) or an exact type."""
    if pattern in ("*", event_type):
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])


class WebhookSubscription(models.Model):
    """A receiver of Baton's events: each matching event becomes one delivery to `url`, signed
    like the inbound webhooks (portal/integrations/signing.py) with the secret shown once at
    creation; `previous_secret` also signs while a receiver switches over."""

    name = models.CharField(max_length=100, help_text="Who receives, e.g. 'CRM sync'.")
    url = models.URLField(
        "URL", max_length=500, help_text="Baton POSTs JSON here (https in production)."
    )
    event_types = models.JSONField(
        default=list,
        help_text="Event types to send: handoff.*, enrollment.*, message.*, an exact type "
        "(handoff.created) or * for everything.",
    )
    is_active = models.BooleanField(
        default=True, help_text="Inactive subscribers get no new deliveries."
    )
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "outbound webhook"

    def __str__(self) -> str:
        return self.name

    @property
    def active_secrets(self) -> list[str]:
        return [s for s in (self.secret, self.previous_secret) if s]

    def wants(self, event_type: str) -> bool:
        return any(event_type_matches(p, event_type) for p in self.event_types or [])


class NotificationKind(models.TextChoices):
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


class NotificationChannel(models.Model):
    """A team's chat channel (a Slack or Teams incoming webhook) told about new handoffs and
    escalations, filtered by trigger and priority. The URL is a credential: admin masks it."""

    team = models.ForeignKey(
        "portal.Team", on_delete=models.CASCADE, related_name="notification_channels"
    )
    name = models.CharField(max_length=100, help_text="e.g. #sales-handoffs")
    kind = models.CharField(max_length=10, choices=NotificationKind.choices)
    webhook_url = models.URLField(max_length=500)
    triggers = models.JSONField(
        default=list,
        blank=True,
        help_text="Only handoffs with these triggers; none ticked: every trigger.",
    )
    min_priority = models.CharField(
        "lowest priority",
        max_length=10,
        choices=Priority.choices,
        default=Priority.LOW,
        help_text="Handoffs below this priority are not posted.",
    )
    on_created = models.BooleanField(
        "new handoffs", default=True, help_text="Post when a handoff is raised."
    )
    on_escalated = models.BooleanField(
        "escalations", default=True, help_text="Post when the SLA sweep escalates a handoff."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__name", "name"]
        verbose_name = "team notification channel"

    def __str__(self) -> str:
        return f"{self.team} — {self.name} ({self.get_kind_display()})"

    def wants(self, handoff: dict[str, Any]) -> bool:
        """Whether a handoff (its event payload) passes this channel's filters."""
        if self.triggers and handoff.get("trigger") not in self.triggers:
            return False
        rank = PRIORITY_ORDER.get(str(handoff.get("priority")), 0)
        return rank >= PRIORITY_ORDER.get(self.min_priority, 0)


class DeliveryKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Retrying (back-off)"
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Dead letter"


DUE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING, DeliveryStatus.SENDING)


class OutboundDelivery(models.Model):
    """One event for one receiver (a webhook subscriber or a notification channel), persisted
    before anything is sent and delivered by portal/integrations/tasks.py under a lease, with
    back-off; after the last attempt it is a dead letter until someone redelivers it. The
    `delivery_id` (X-Baton-Delivery) never changes, across retries and redeliveries."""

    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=DeliveryKind.choices)
    subscription = models.ForeignKey(
        WebhookSubscription,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    channel = models.ForeignKey(
        NotificationChannel,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    event_type = models.CharField(max_length=40)
    # What makes two deliveries to one receiver the same: the event (seq-123), or for a
    # notification what it announces (escalated:42), so a receiver never gets one twice.
    event_key = models.CharField(max_length=100)
    payload = models.JSONField(help_text="The body (webhooks) or the message (Slack, Teams).")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    redeliveries = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "outbound delivery"
        verbose_name_plural = "outbound deliveries"
        constraints = [
            models.CheckConstraint(
                condition=(Q(subscription__isnull=False) & Q(channel__isnull=True))
                | (Q(subscription__isnull=True) & Q(channel__isnull=False)),
                name="outbound_delivery_one_receiver",
            ),
            models.UniqueConstraint(
                fields=["subscription", "event_key"],
                condition=Q(subscription__isnull=False),
                name="outbound_delivery_once_per_subscriber",
            ),
            models.UniqueConstraint(
                fields=["channel", "event_key"],
                condition=Q(channel__isnull=False),
                name="outbound_delivery_once_per_channel",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "retrying", "sending"]),
                name="outbound_delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.receiver} ({self.get_status_display()})"

    @property
    def receiver(self) -> Any:
        return self.subscription or self.channel


class DeadLetter(OutboundDelivery):
    """The deliveries that ran out of attempts: admin's dead-letter list, with "redeliver"."""

    class Meta:
        proxy = True
        verbose_name = "dead letter"


class OutboundCursor(models.Model):
    """One row: the last event-log seq (portal.models.Event) turned into deliveries. Seq order is
    commit order (portal/realtime.py), so reading past the cursor never skips an event."""

    event_seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"outbound dispatched through #{self.event_seq}"
