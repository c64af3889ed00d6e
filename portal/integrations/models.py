"""Inbound webhooks ops configure in admin, and the deliveries each has accepted.

Imported at the end of portal/models.py, so these are models of the `portal` app."""

from __future__ import annotations

from django.db import models


class InboundWebhook(models.Model):
    """A signed endpoint, `POST /api/v1/hooks/<slug>/`, whose JSON payloads a mapping turns into
    signals (webhooks.py). Secrets are stored as they are (HMAC needs them) and never shown in
    full after they are made; `previous_secret` keeps working while senders switch over."""

    name = models.CharField(max_length=100, help_text="Who sends it, e.g. 'HubSpot deal won'.")
    slug = models.SlugField(
        max_length=50,
        unique=True,
        help_text="Its URL: /api/v1/hooks/SLUG/ (lower-case letters, digits and -).",
    )
    is_active = models.BooleanField(
        default=True, help_text="Inactive webhooks answer 404 and store nothing."
    )
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)

    type_value = models.CharField(
        "signal type",
        max_length=64,
        blank=True,
        help_text="Every delivery becomes a signal of this type (e.g. deal_won)…",
    )
    type_path = models.CharField(
        max_length=200,
        blank=True,
        help_text="…or read the type from the payload at this path (e.g. event.name); "
        "names are normalised: 'Deal Won' → deal_won.",
    )
    external_id_path = models.CharField(
        "contact external id path",
        max_length=200,
        blank=True,
        help_text="e.g. contact.id. Without one, the contact is found by email or phone.",
    )
    email_path = models.CharField("contact email path", max_length=200, blank=True)
    phone_path = models.CharField("contact phone path", max_length=200, blank=True)
    name_path = models.CharField("contact name path", max_length=200, blank=True)
    account_external_id_path = models.CharField(max_length=200, blank=True)
    account_name_path = models.CharField(max_length=200, blank=True)
    occurred_at_path = models.CharField(
        max_length=200, blank=True, help_text="An ISO 8601 time; empty: when it arrives."
    )
    property_paths = models.JSONField(
        default=dict,
        blank=True,
        help_text='Signal properties from payload paths: {"budget": "deal.amount", '
        '"source": "utm.source?"}.',
    )
    properties_path = models.CharField(
        max_length=200,
        blank=True,
        help_text="An object in the payload whose keys all become properties (e.g. "
        "deal.properties); property paths above are added on top.",
    )
    sample_payload = models.JSONField(
        default=dict,
        blank=True,
        help_text="Paste a real payload here and save: the preview shows the signal it makes.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "inbound webhook"

    def __str__(self) -> str:
        return self.name

    @property
    def active_secrets(self) -> list[str]:
        return [s for s in (self.secret, self.previous_secret) if s]


class WebhookDelivery(models.Model):
    """One accepted delivery: the unique (webhook, delivery key) refuses a replay, even two
    copies arriving at once. The key is the sender's `X-Baton-Delivery` id, else a hash of the
    signed timestamp and body."""

    webhook = models.ForeignKey(InboundWebhook, on_delete=models.CASCADE, related_name="deliveries")
    delivery_key = models.CharField(max_length=200)
    signal_id = models.BigIntegerField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "delivery_key"], name="webhook_delivery_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.webhook} delivery {self.delivery_key[:40]}"


from portal.integrations.outbound_models import (  # noqa: E402, F401 (models of the portal app)
    DeadLetter,
    NotificationChannel,
    OutboundCursor,
    OutboundDelivery,
    WebhookSubscription,
)
