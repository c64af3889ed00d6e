from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from journeys import design, rules
from journeys.engine import journey_publish
from journeys.models import (
    Account,
    Contact,
    Enrollment,
    HandoffRule,
    Journey,
    Signal,
    Stage,
    Step,
)
from journeys.services import handoff_rule_save
from portal.admin import TeamScopedAdmin
from portal.errors import InvalidInput
from portal.roles import EDIT_RULES, VIEW_RULES
from portal.selectors import teams_with_perm


class HandoffRuleForm(forms.ModelForm):
    class Meta:
        model = HandoffRule
        fields = [
            "name",
            "enabled",
            "signal_type",
            "condition",
            "trigger",
            "team",
            "offer_to_role",
            "priority",
            "reason_template",
        ]
        widgets = {"condition": forms.Textarea(attrs={"rows": 8, "cols": 80})}
        help_texts = {
            "condition": "JSON tree of {path, op, value} under all / any / not. Operators: "
            + ", ".join(rules.OPERATORS)
            + ". Paths: "
            + rules.KNOWN_PATHS_HELP
            + ". See docs/rules.md."
        }

    def clean_condition(self) -> Any:
        condition = self.cleaned_data["condition"]
        errors = rules.condition_errors(condition)
        if errors:
            raise forms.ValidationError(errors)
        return condition

    def clean_reason_template(self) -> str:
        template = self.cleaned_data["reason_template"]
        errors = rules.template_errors(template)
        if errors:
            raise forms.ValidationError(errors)
        return template


@admin.register(HandoffRule)
class HandoffRuleAdmin(admin.ModelAdmin):
    """Ops see the rules of teams they may read and change those of teams they may edit."""

    form = HandoffRuleForm
    list_display = [
        "name",
        "version",
        "signal_type",
        "trigger",
        "team",
        "priority",
        "offer_to_role",
        "enabled",
    ]
    list_filter = ["team", "trigger", "enabled", "signal_type"]
    search_fields = ["name", "signal_type", "reason_template"]
    readonly_fields = ["version", "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[HandoffRule]:
        qs = super().get_queryset(request).select_related("team")
        if request.user.is_superuser:
            return qs
        return qs.filter(team__in=teams_with_perm(principal=request.user, codename=VIEW_RULES))

    def _editable_team_ids(self, request: HttpRequest) -> set[int]:
        return set(
            teams_with_perm(principal=request.user, codename=EDIT_RULES).values_list(
                "id", flat=True
            )
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return obj.team_id in self._editable_team_ids(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj) and super().has_delete_permission(
            request, obj
        )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "team" and not request.user.is_superuser:
            kwargs["queryset"] = teams_with_perm(principal=request.user, codename=EDIT_RULES)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: HandoffRule, form: Any, change: bool) -> None:
        handoff_rule_save(rule=obj, actor=request.user, changed=form.changed_data)


class StageInline(admin.TabularInline):
    model = Stage
    extra = 1


class StepForm(forms.ModelForm):
    class Meta:
        model = Step
        fields = ["order", "key", "kind", "mode", "stage", "team", "config"]
        help_texts = {"config": design.DEFINITION_HELP + " See docs/journeys.md."}


class StepInline(admin.StackedInline):
    model = Step
    form = StepForm
    extra = 0
    fields = [("order", "key", "kind", "mode"), ("stage", "team"), "config"]
    ordering = ["order", "id"]


class JourneyForm(forms.ModelForm):
    class Meta:
        model = Journey
        fields = ["name", "slug", "description", "is_active", "enroll_on_signal_type"]
        fields += ["enroll_condition"]
        widgets = {"enroll_condition": forms.Textarea(attrs={"rows": 4, "cols": 80})}

    def clean_enroll_condition(self) -> Any:
        condition = self.cleaned_data.get("enroll_condition") or {}
        if condition and (errors := rules.condition_errors(condition)):
            raise forms.ValidationError(errors)
        return condition


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    """Ops design the journey here; every save publishes it as a new version when it can run,
    and otherwise says why (enrollments keep running the last good version)."""

    form = JourneyForm
    list_display = ["name", "slug", "enroll_on_signal_type", "is_active", "live_version"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StageInline, StepInline]

    @admin.display(description="Live version")
    def live_version(self, obj: Journey) -> str:
        version = obj.versions.order_by("-number").first()
        return f"v{version.number}" if version else "not published"

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        journey = form.instance
        if not journey.steps.exists():
            return
        try:
            version, new = journey_publish(journey=journey, user=request.user)
        except InvalidInput as refused:
            self.message_user(
                request,
                "Saved as a draft, NOT published — it cannot run: "
                + " · ".join(refused.errors["definition"]),
                level=messages.ERROR,
            )
            return
        if new:
            self.message_user(request, f"Published as v{version.number}.", level=messages.SUCCESS)
        else:
            self.message_user(request, f"No change to the steps: v{version.number} stays live.")


@admin.register(Contact)
class ContactAdmin(TeamScopedAdmin):
    team_path = "handoffs__team"
    list_display = ["external_id", "name", "email", "phone", "account", "updated_at"]
    search_fields = ["external_id", "name", "email", "phone"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]


@admin.register(Account)
class AccountAdmin(TeamScopedAdmin):
    team_path = "contacts__handoffs__team"
    list_display = ["external_id", "name", "updated_at"]
    search_fields = ["external_id", "name"]


@admin.register(Signal)
class SignalAdmin(TeamScopedAdmin):
    team_path = "contact__handoffs__team"
    list_display = ["id", "type", "contact", "occurred_at", "received_at", "evaluated_at"]
    list_filter = ["type"]
    search_fields = ["idempotency_key", "contact__external_id"]
    list_select_related = ["contact"]
    readonly_fields = [f.name for f in Signal._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Enrollment)
class EnrollmentAdmin(TeamScopedAdmin):
    team_path = "contact__handoffs__team"
    list_display = ["contact", "journey", "stage", "status", "stage_entered_at"]
    list_filter = ["journey", "status"]
    list_select_related = ["contact", "journey", "stage"]
    raw_id_fields = ["contact"]
    readonly_fields = ["status", "paused_at"]
