"""Admin for inbound webhooks: the mapping, a preview of the signal a sample payload makes, and
secrets shown once (masked after), rotated and retired with actions."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from journeys.api.serializers import SIGNAL_TYPE
from portal.integrations.models import InboundWebhook, WebhookDelivery
from portal.integrations.services import (
    mask,
    secret_issue,
    secret_retire_previous,
    secret_rotate,
)
from portal.integrations.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from portal.integrations.webhooks import path_errors, preview

PATH_FIELDS = (
    "type_path",
    "external_id_path",
    "email_path",
    "phone_path",
    "name_path",
    "account_external_id_path",
    "account_name_path",
    "occurred_at_path",
    "properties_path",
)


class PrettyJSONField(forms.JSONField):
    """JSON shown indented, so a pasted payload stays readable after a save."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class InboundWebhookForm(forms.ModelForm):
    property_paths = PrettyJSONField(
        required=False,
        help_text=InboundWebhook._meta.get_field("property_paths").help_text,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
    )
    sample_payload = PrettyJSONField(
        required=False,
        help_text=InboundWebhook._meta.get_field("sample_payload").help_text,
        widget=forms.Textarea(attrs={"rows": 14, "cols": 80}),
    )

    class Meta:
        model = InboundWebhook
        fields = [
            "name",
            "slug",
            "is_active",
            "type_value",
            *PATH_FIELDS,
            "property_paths",
            "sample_payload",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in PATH_FIELDS:
            value = (data.get(name) or "").strip()
            data[name] = value
            if value and (problem := path_errors(value)):
                self.add_error(name, problem)
        type_value = (data.get("type_value") or "").strip()
        data["type_value"] = type_value
        if bool(type_value) == bool(data.get("type_path")):
            self.add_error("type_value", "Give a signal type or a path to read it from (one).")
        elif type_value and not SIGNAL_TYPE.match(type_value):
            self.add_error("type_value", "Letters, digits and _ . : - only (e.g. deal_won).")
        if not any(data.get(f) for f in ("external_id_path", "email_path", "phone_path")):
            self.add_error(
                "external_id_path", "Map the contact: an external id, email or phone path."
            )
        properties = data.get("property_paths")
        if properties in (None, ""):
            data["property_paths"] = {}
        elif not isinstance(properties, dict) or not all(
            isinstance(k, str) and k and isinstance(v, str) for k, v in properties.items()
        ):
            self.add_error(
                "property_paths", 'A JSON object of names to paths: {"budget": "deal.amount"}.'
            )
        else:
            for name, path in properties.items():
                if problem := path_errors(path):
                    self.add_error("property_paths", f"{name}: {problem}")
        if data.get("sample_payload") is None:
            data["sample_payload"] = {}
        return data


class SigningSecretAdmin(admin.ModelAdmin):
    """Rows that sign with a secret: a new one gets its secret on save (shown once), and the
    actions rotate it (both valid until the previous is retired) and retire the previous one."""

    audit_name = "integration"  # the audit log's name for the row
    rotation_note = "The previous one keeps working until you retire it."
    actions = ["rotate_secret", "retire_previous_secret"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        secret = secret_issue(obj=obj, actor=request.user, what=self.audit_name)
        messages.warning(request, f"Copy the signing secret now; it is not shown again: {secret}")

    @admin.action(description="Rotate signing secret (the old one works until retired)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for row in queryset:
            rotated, secret = secret_rotate(
                self.model, pk=row.pk, actor=request.user, what=self.audit_name
            )
            messages.warning(
                request,
                f"{rotated.name}: new signing secret (copy it now; it is not shown again): "
                f"{secret}. {self.rotation_note}",
            )

    @admin.action(description="Retire the previous signing secret")
    def retire_previous_secret(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        retired = [
            row.name
            for row in queryset
            if secret_retire_previous(
                self.model, pk=row.pk, actor=request.user, what=self.audit_name
            )
        ]
        if retired:
            self.message_user(request, f"Previous secret retired: {', '.join(retired)}.")
        else:
            self.message_user(request, "No previous secret to retire.", messages.INFO)


@admin.register(InboundWebhook)
class InboundWebhookAdmin(SigningSecretAdmin):
    form = InboundWebhookForm
    list_display = ["name", "slug", "is_active", "signal_type", "secrets", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["endpoint", "secrets", "secret_rotated_at", "mapping_preview", "recent"]
    audit_name = "inbound webhook"
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active", "endpoint"]}),
        (
            "Signing",
            {
                "fields": ["secrets", "secret_rotated_at"],
                "description": f"Senders send {TIMESTAMP_HEADER} (Unix seconds, within 5 "
                f"minutes of now) and {SIGNATURE_HEADER}: v1=HEX, the hex HMAC-SHA256 of "
                "TIMESTAMP + '.' + the raw body under the secret; optionally "
                f"{DELIVERY_HEADER}, an id refused if seen again. Rotate and retire secrets "
                "with the actions on the list page (docs/integrations.md).",
            },
        ),
        (
            "Mapping: paths into the JSON payload (deal.amount, items.0.sku; end with ? "
            "when it may be missing)",
            {"fields": ["type_value", *PATH_FIELDS, "property_paths"]},
        ),
        ("Test the mapping", {"fields": ["sample_payload", "mapping_preview"]}),
        ("Deliveries", {"fields": ["recent"]}),
    ]

    @admin.display(description="signal type")
    def signal_type(self, obj: InboundWebhook) -> str:
        return obj.type_value or f"from {obj.type_path}"

    @admin.display(description="endpoint")
    def endpoint(self, obj: InboundWebhook) -> str:
        if not obj.slug:
            return "—"
        return f"POST {settings.BATON_PUBLIC_URL}/api/v1/hooks/{obj.slug}/"

    @admin.display(description="signing secrets")
    def secrets(self, obj: InboundWebhook) -> str:
        if not obj.secret:
            return "Made when you save; shown once."
        if obj.previous_secret:
            return (
                f"{mask(obj.secret)} (current), {mask(obj.previous_secret)} (previous, retire it)"
            )
        return f"{mask(obj.secret)}"

    @admin.display(description="preview")
    def mapping_preview(self, obj: InboundWebhook) -> str:
        if obj.pk is None or not obj.sample_payload:
            return "Paste a sample payload above and save: the signal it makes shows here."
        mapped = preview(obj, obj.sample_payload)
        if mapped.errors:
            return format_html(
                "<p><strong>This payload would be refused (400):</strong></p><ul>{}</ul>",
                format_html_join(
                    "",
                    "<li><code>{}</code>: {}</li>",
                    ((k, " ".join(v)) for k, v in mapped.errors.items()),
                ),
            )
        note = (
            format_html(
                "<p>Optional paths not in this payload: {}</p>",
                ", ".join(mapped.missing_optional),
            )
            if mapped.missing_optional
            else ""
        )
        shown = json.dumps(mapped.data, indent=2, ensure_ascii=False, default=str)
        return format_html("<p>This payload makes the signal:</p><pre>{}</pre>{}", shown, note)

    @admin.display(description="last deliveries")
    def recent(self, obj: InboundWebhook) -> str:
        if obj.pk is None:
            return "—"
        rows = list(obj.deliveries.all()[:5])
        if not rows:
            return "None yet."
        link = reverse("admin:portal_webhookdelivery_changelist") + f"?webhook__id__exact={obj.pk}"
        return format_html(
            "<ul>{}</ul><a href='{}'>All deliveries</a>",
            format_html_join(
                "",
                "<li>{} — {} → signal {}</li>",
                ((d.received_at, d.delivery_key[:60], d.signal_id) for d in rows),
            ),
            link,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Read-only: what each webhook accepted, and the signal it made."""

    list_display = ["received_at", "webhook", "delivery_key", "signal"]
    list_filter = ["webhook"]
    list_select_related = ["webhook"]

    @admin.display(description="signal")
    def signal(self, obj: WebhookDelivery) -> str:
        if obj.signal_id is None:
            return "—"
        url = reverse("admin:journeys_signal_change", args=[obj.signal_id])
        return format_html("<a href='{}'>#{}</a>", url, obj.signal_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


from portal.integrations import outbound_admin  # noqa: E402, F401 (integrations out)
