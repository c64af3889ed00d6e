"""Admin for integrations out: webhook subscribers (secrets shown once, rotated, retired), team
notification channels (Slack / Teams, the URL masked), every delivery with its status, and the
dead-letter list with "redeliver"."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from handoffs.choices import Trigger
from portal.admin import TeamScopedAdmin
from portal.integrations.admin import SigningSecretAdmin
from portal.integrations.outbound import deliveries_redeliver
from portal.integrations.outbound_models import (
    OUTBOUND_EVENT_TYPES,
    DeadLetter,
    DeliveryStatus,
    NotificationChannel,
    OutboundDelivery,
    WebhookSubscription,
)
from portal.integrations.outbound_services import (
    event_pattern_error,
    mask_url,
    notification_channel_save,
)
from portal.integrations.services import mask
from portal.integrations.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from portal.roles import EDIT_RULES
from portal.selectors import teams_with_perm


class EventTypesField(forms.CharField):
    """Patterns as text, one per line or comma-separated; stored as a list."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value) or ""
        return [p for p in (part.strip() for part in text.replace(",", "\n").split()) if p]

    def validate(self, value: list[str]) -> None:
        if not value:
            raise forms.ValidationError("Name at least one event type, e.g. handoff.*")
        errors = [e for p in value if (e := event_pattern_error(p))]
        if errors:
            raise forms.ValidationError(errors)


class WebhookSubscriptionForm(forms.ModelForm):
    event_types = EventTypesField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 40}),
        help_text="One per line: handoff.*, enrollment.*, message.*, * or an exact type — "
        + ", ".join(OUTBOUND_EVENT_TYPES)
        + ".",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "event_types", "is_active"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(SigningSecretAdmin):
    form = WebhookSubscriptionForm
    list_display = ["name", "url", "events", "is_active", "health"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    readonly_fields = ["secrets", "secret_rotated_at", "recent"]
    audit_name = "outbound webhook"
    rotation_note = "Deliveries carry both signatures until you retire the previous one."
    fieldsets = [
        (None, {"fields": ["name", "url", "event_types", "is_active"]}),
        (
            "Signing",
            {
                "fields": ["secrets", "secret_rotated_at"],
                "description": f"Each delivery carries {TIMESTAMP_HEADER}, {SIGNATURE_HEADER} "
                "(v1=HEX: HMAC-SHA256 of TIMESTAMP + '.' + the raw body, one per active "
                f"secret) and {DELIVERY_HEADER}, the same on every retry — verify and dedupe "
                "exactly as Baton's inbound webhooks do (docs/integrations.md).",
            },
        ),
        ("Deliveries", {"fields": ["recent"]}),
    ]

    @admin.display(description="events")
    def events(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types or [])

    @admin.display(description="signing secrets")
    def secrets(self, obj: WebhookSubscription) -> str:
        if not obj.secret:
            return "Made when you save; shown once."
        if obj.previous_secret:
            return f"{mask(obj.secret)} (current), {mask(obj.previous_secret)} (previous)"
        return mask(obj.secret)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .annotate(dead=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.DEAD)))
        )

    @admin.display(description="dead letters")
    def health(self, obj: WebhookSubscription) -> str:
        dead = getattr(obj, "dead", 0)
        if not dead:
            return "—"
        link = reverse("admin:portal_deadletter_changelist") + f"?subscription__id__exact={obj.pk}"
        return format_html("<a href='{}'>{} dead</a>", link, dead)

    @admin.display(description="last deliveries")
    def recent(self, obj: WebhookSubscription) -> str:
        if obj.pk is None:
            return "—"
        rows = list(obj.deliveries.order_by("-created_at", "-id")[:8])
        if not rows:
            return "None yet."
        link = (
            reverse("admin:portal_outbounddelivery_changelist")
            + f"?subscription__id__exact={obj.pk}"
        )
        return format_html(
            "<ul>{}</ul><a href='{}'>All deliveries</a>",
            format_html_join(
                "",
                "<li>{} {} — {} after {} attempt(s){}</li>",
                (
                    (
                        d.created_at.strftime("%d %b %H:%M:%S"),
                        d.event_type,
                        d.get_status_display(),
                        d.attempts,
                        f" ({d.last_error})" if d.last_error else "",
                    )
                    for d in rows
                ),
            ),
            link,
        )


class NotificationChannelForm(forms.ModelForm):
    """The webhook URL is write-only: blank on change keeps the stored one."""

    webhook_url = forms.URLField(
        label="Incoming webhook URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        widget=forms.PasswordInput(render_value=False, attrs={"size": 80}),
        help_text="Slack: https://hooks.slack.com/services/… (an app's incoming webhook). "
        "Teams: a Workflows 'Post to a channel when a webhook request is received' URL. "
        "Leave blank to keep the stored one.",
    )
    triggers = forms.MultipleChoiceField(
        choices=Trigger.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every trigger.",
    )

    class Meta:
        model = NotificationChannel
        fields = [
            "team",
            "name",
            "kind",
            "webhook_url",
            "triggers",
            "min_priority",
            "on_created",
            "on_escalated",
            "is_active",
        ]

    def clean_webhook_url(self) -> str:
        url = (self.cleaned_data.get("webhook_url") or "").strip()
        if url:
            return url
        if self.instance.pk and self.instance.webhook_url:
            return self.instance.webhook_url
        raise forms.ValidationError("Paste the channel's incoming webhook URL.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("on_created") and not data.get("on_escalated"):
            self.add_error("on_created", "Tick new handoffs, escalations or both.")
        return data


@admin.register(NotificationChannel)
class NotificationChannelAdmin(TeamScopedAdmin):
    """Ops see and change the channels of the teams whose rules they may edit."""

    form = NotificationChannelForm
    team_codename = EDIT_RULES
    list_display = ["name", "team", "kind", "masked_url", "filters", "is_active"]
    list_filter = ["team", "kind", "is_active"]
    list_select_related = ["team"]
    readonly_fields = ["masked_url"]

    @admin.display(description="webhook URL")
    def masked_url(self, obj: NotificationChannel) -> str:
        return mask_url(obj.webhook_url)

    @admin.display(description="posts")
    def filters(self, obj: NotificationChannel) -> str:
        what = [w for w, on in (("new", obj.on_created), ("escalations", obj.on_escalated)) if on]
        triggers = ", ".join(Trigger(t).label.lower() for t in obj.triggers) or "every trigger"
        return f"{' + '.join(what)}; {triggers}; {obj.get_min_priority_display().lower()}+"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(NotificationChannelForm.Meta.fields)
        if obj is not None:
            fields.insert(fields.index("webhook_url"), "masked_url")
        return fields

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "team" and not request.user.is_superuser:
            kwargs["queryset"] = teams_with_perm(principal=request.user, codename=EDIT_RULES)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: NotificationChannel, form: Any, change: bool
    ) -> None:
        notification_channel_save(channel=obj, actor=request.user)


class DeliveryAdminBase(admin.ModelAdmin):
    list_display = [
        "created_at",
        "event_type",
        "receiver_name",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
    ]
    list_filter = [
        "status",
        "kind",
        "event_type",
        ("subscription", admin.RelatedOnlyFieldListFilter),
        ("channel", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["subscription", "channel__team"]
    search_fields = ["=delivery_id", "event_key", "event_type"]
    actions = ["redeliver"]
    readonly_fields = [
        "delivery_id",
        "kind",
        "receiver_name",
        "event_type",
        "event_key",
        "status",
        "attempts",
        "redeliveries",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "body",
    ]
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """Superusers see everything. Others see their teams' Slack/Teams posts, and webhook
        deliveries (organisation-wide, every team's data) only if they may view subscribers."""
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        scope = Q(channel__team__in=teams_with_perm(principal=request.user, codename=EDIT_RULES))
        if request.user.has_perm("portal.view_webhooksubscription"):
            scope |= Q(subscription__isnull=False)
        return qs.filter(scope)

    @admin.display(description="receiver")
    def receiver_name(self, obj: OutboundDelivery) -> str:
        return str(obj.receiver)

    @admin.display(description="payload")
    def body(self, obj: OutboundDelivery) -> str:
        shown = json.dumps(obj.payload, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html("<pre>{}</pre>", shown)

    @admin.action(description="Redeliver (same delivery id; dead letters only)")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[OutboundDelivery]) -> None:
        asked = list(queryset.values_list("pk", flat=True))
        revived = deliveries_redeliver(pks=asked, actor=request.user)
        skipped = len(asked) - len(revived)
        if revived:
            self.message_user(request, f"Redelivering {len(revived)}: queued with the same ids.")
        if skipped:
            self.message_user(
                request,
                f"{skipped} not redelivered: only dead letters are (a delivered one never is "
                "sent again; a retrying one is on its way).",
                messages.WARNING,
            )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboundDelivery)
class OutboundDeliveryAdmin(DeliveryAdminBase):
    """Every webhook delivery and Slack/Teams post, with its status."""


@admin.register(DeadLetter)
class DeadLetterAdmin(DeliveryAdminBase):
    """Deliveries that ran out of attempts (or were refused for good): fix the receiver, then
    redeliver."""

    list_display = [
        "created_at",
        "event_type",
        "receiver_name",
        "attempts",
        "last_status_code",
        "last_error",
    ]
    list_filter = [
        "kind",
        "event_type",
        ("subscription", admin.RelatedOnlyFieldListFilter),
        ("channel", admin.RelatedOnlyFieldListFilter),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(status=DeliveryStatus.DEAD)
