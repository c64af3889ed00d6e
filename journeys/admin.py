from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from governance.versions.admin import VersionedAdminMixin
from journeys import design, rules
from journeys.choices import LIVE_ENROLLMENT_STATUSES
from journeys.engine import journey_publish, latest_versions
from journeys.models import (
    Account,
    Contact,
    Enrollment,
    ExchangeRate,
    HandoffRule,
    Journey,
    Signal,
    Stage,
    Step,
)
from journeys.privacy import contact_erase, contact_export
from journeys.services import (
    enrollment_enroll_by_hand,
    enrollment_unenroll,
    enrollments_migrate,
    handoff_rule_save,
)
from portal.admin import TeamScopedAdmin
from portal.errors import DomainError, InvalidInput
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
class HandoffRuleAdmin(VersionedAdminMixin, admin.ModelAdmin):
    """Ops see the rules of teams they may read and change those of teams they may edit; every
    change is versioned, or saved as a draft (governance/versions/)."""

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
    actions = ["move_live_enrollments"]

    @admin.action(description="Move live enrollments to the live version", permissions=["migrate"])
    def move_live_enrollments(self, request: HttpRequest, queryset: QuerySet[Journey]) -> None:
        """Enrollments already on the live version are left out rather than reported refused;
        only the enrollments this person may see (EnrollmentAdmin's scoping) are moved."""
        live = latest_versions(list(queryset))
        enrollments = (
            self.admin_site.get_model_admin(Enrollment)
            .get_queryset(request)
            .filter(journey__in=queryset, status__in=LIVE_ENROLLMENT_STATUSES)
            .exclude(version__in=list(live.values()))
        )
        _move_to_live_versions(self, request, enrollments)

    def has_migrate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("journeys.change_enrollment")

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


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """The rates currency-aware rules convert with (docs/rules.md, "Money")."""

    list_display = ["currency", "rate", "base", "updated_at"]
    search_fields = ["currency"]

    @admin.display(description="Base currency")
    def base(self, obj: ExchangeRate) -> str:
        return settings.BATON_BASE_CURRENCY


MAX_EXPORT = 100


class ErasureForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        help_text="The erasure request's reference or reason; kept with the anonymised contact.",
    )


@admin.register(Contact)
class ContactAdmin(TeamScopedAdmin):
    team_path = ("handoffs__team", "enrollments__journey__steps__team")
    list_display = ["external_id", "name", "email", "phone", "account", "updated_at"]
    search_fields = ["external_id", "name", "email", "phone"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
    readonly_fields = ["erased_at", "erased_by", "erasure_note"]
    actions = ["enroll_in_journey", "export_personal_data", "erase_personal_data"]

    @admin.action(description="Export personal data (JSON)", permissions=["export_data"])
    def export_personal_data(
        self, request: HttpRequest, queryset: QuerySet[Contact]
    ) -> HttpResponse:
        """One JSON document: every selected contact's data (journeys/privacy.py)."""
        contacts = list(queryset.select_related("account")[: MAX_EXPORT + 1])
        if len(contacts) > MAX_EXPORT:
            self.message_user(
                request, f"Export at most {MAX_EXPORT} contacts at a time.", messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())
        body = json.dumps([contact_export(contact=c) for c in contacts], indent=2)
        response = HttpResponse(body, content_type="application/json")
        name = f"contact-{contacts[0].pk}" if len(contacts) == 1 else "contacts"
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response

    @admin.action(description="Erase personal data…", permissions=["erase_data"])
    def erase_personal_data(
        self, request: HttpRequest, queryset: QuerySet[Contact]
    ) -> TemplateResponse | None:
        """A confirmation page asks for the request's reference; then each contact is erased
        (journeys/privacy.py): anonymised, taken out of automation, aggregates kept."""
        form = ErasureForm(request.POST if "confirm" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase personal data",
                "opts": self.opts,
                "form": form,
                "contacts": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/journeys/contact_erase.html", context)
        reason = form.cleaned_data["reason"]
        _each(
            self,
            request,
            queryset,
            lambda contact: contact_erase(contact_id=contact.pk, actor=request.user, note=reason),
            "Erased the personal data of {done} contact(s); {refused} refused.",
        )
        return None

    def has_export_data_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("journeys.export_contact_data")

    def has_erase_data_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("journeys.erase_contact_data")

    @admin.action(description="Enroll in a journey…", permissions=["enroll"])
    def enroll_in_journey(
        self, request: HttpRequest, queryset: QuerySet[Contact]
    ) -> TemplateResponse | None:
        """An intermediate page picks the journey; then each selected contact is enrolled."""
        form = JourneyChoiceForm(request.POST if "confirm" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Enroll in a journey",
                "opts": self.opts,
                "form": form,
                "contacts": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/journeys/contact_enroll.html", context)
        journey = form.cleaned_data["journey"]
        _each(
            self,
            request,
            queryset,
            lambda contact: enrollment_enroll_by_hand(
                contact=contact, journey=journey, actor=request.user
            ),
            "Enrolled {done} contact(s) in {journey}; {refused} refused.",
            journey=journey.name,
        )
        return None

    def has_enroll_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("journeys.add_enrollment")


@admin.register(Account)
class AccountAdmin(TeamScopedAdmin):
    team_path = ("contacts__handoffs__team", "contacts__enrollments__journey__steps__team")
    list_display = ["external_id", "name", "updated_at"]
    search_fields = ["external_id", "name"]


@admin.register(Signal)
class SignalAdmin(TeamScopedAdmin):
    team_path = ("contact__handoffs__team", "contact__enrollments__journey__steps__team")
    list_display = ["id", "type", "contact", "occurred_at", "received_at", "evaluated_at"]
    list_filter = ["type"]
    search_fields = ["idempotency_key", "contact__external_id"]
    list_select_related = ["contact"]
    readonly_fields = [f.name for f in Signal._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class JourneyChoiceForm(forms.Form):
    journey = forms.ModelChoiceField(
        queryset=Journey.objects.filter(is_active=True).order_by("name"),
        help_text="Each contact starts on the journey's live version.",
    )


class EnrollByHandForm(forms.ModelForm):
    """Enrolling by hand is `enrollment_enroll_by_hand` (it starts the journey and audits who
    did it). It runs while the form validates, inside the admin's transaction, because that is
    where its refusals can still become form errors; the saved enrollment becomes the form's
    instance."""

    actor: Any = None  # the admin user; EnrollmentAdmin.get_form binds it per request

    class Meta:
        model = Enrollment
        fields = ["contact", "journey"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        contact, journey = data.get("contact"), data.get("journey")
        if contact is None or journey is None:
            return data
        try:
            self.instance = enrollment_enroll_by_hand(
                contact=contact, journey=journey, actor=self.actor
            )
        except DomainError as refusal:
            raise forms.ValidationError(refusal.detail) from refusal
        return data

    def validate_unique(self) -> None:
        """The service owns "already live in this journey" (under the unique index, race-safe);
        the model's own check would only repeat it, less clearly."""


ENROLLMENT_DETAIL_FIELDS = [
    "contact",
    "journey",
    "version",
    "status",
    "stage",
    "step",
    "stage_entered_at",
    "due_at",
    "waiting_for",
    "paused_at",
    "state",
    "created_at",
    "updated_at",
]
MAX_LISTED_REFUSALS = 20


def _each(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    items: Iterable[Any],
    act: Callable[[Any], object],
    summary: str,
    **names: str,
) -> None:
    """Run a service on each selected item; say how many it did and why the rest were refused.
    `summary` is a format string over done, refused and `names`."""
    done, refusals = 0, []
    for item in items:
        try:
            act(item)
        except DomainError as refusal:
            refusals.append(refusal.detail)
        else:
            done += 1
    model_admin.message_user(
        request,
        summary.format(done=done, refused=len(refusals), **names),
        level=messages.SUCCESS if done else messages.WARNING,
    )
    _report_refusals(model_admin, request, refusals)


def _report_refusals(model_admin: admin.ModelAdmin, request: HttpRequest, lines: list[str]) -> None:
    """One warning per distinct reason (a journey-wide refusal is said once), up to a limit."""
    distinct = list(dict.fromkeys(lines))
    for line in distinct[:MAX_LISTED_REFUSALS]:
        model_admin.message_user(request, line, level=messages.WARNING)
    if len(distinct) > MAX_LISTED_REFUSALS:
        more = len(distinct) - MAX_LISTED_REFUSALS
        model_admin.message_user(request, f"…and {more} more refusals.", level=messages.WARNING)


def _move_to_live_versions(
    model_admin: admin.ModelAdmin, request: HttpRequest, enrollments: QuerySet[Enrollment]
) -> None:
    """Move each enrollment to its journey's live version; say how many moved and why the
    others could not."""
    rows = list(enrollments.select_related("contact", "journey").order_by("pk"))
    labels = {e.pk: f"{e.contact} in {e.journey}" for e in rows}
    by_journey: dict[int, list[int]] = {}
    for enrollment in rows:
        by_journey.setdefault(enrollment.journey_id, []).append(enrollment.pk)
    live = latest_versions(list({e.journey_id: e.journey for e in rows}.values()))
    moved, refused = 0, {}
    for journey_id, ids in by_journey.items():
        version = live.get(journey_id)
        if version is None:
            refused.update(dict.fromkeys(ids, "its journey has no published version"))
            continue
        try:
            result = enrollments_migrate(enrollment_ids=ids, version=version, actor=request.user)
        except DomainError as refusal:
            refused.update(dict.fromkeys(ids, refusal.detail))
            continue
        moved += len(result.moved)
        refused.update(result.refused)
    model_admin.message_user(
        request,
        f"Moved {moved} enrollment(s) to the live version; {len(refused)} refused.",
        level=messages.SUCCESS if moved else messages.WARNING,
    )
    _report_refusals(model_admin, request, [f"{labels[pk]}: {why}" for pk, why in refused.items()])


@admin.register(Enrollment)
class EnrollmentAdmin(TeamScopedAdmin):
    """Enrollments change only through the journey services: ops enroll by hand (the add form),
    unenroll, and move enrollments to a new version (actions); an enrollment's page is
    read-only and enrollments are never deleted (their events are the contact's history)."""

    team_path = ("contact__handoffs__team", "journey__steps__team")
    list_display = [
        "contact",
        "journey",
        "version_number",
        "stage",
        "step",
        "status",
        "due_at",
        "waiting_for",
        "stage_entered_at",
    ]
    list_filter = ["journey", "status"]
    list_select_related = ["contact", "journey", "stage__journey", "version"]
    search_fields = ["contact__external_id", "contact__name", "contact__email"]
    autocomplete_fields = ["contact"]
    actions = ["unenroll", "move_to_live_version"]

    @admin.display(description="Version", ordering="version__number")
    def version_number(self, obj: Enrollment) -> str:
        return f"v{obj.version.number}" if obj.version else "—"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["contact", "journey"] if obj is None else ENROLLMENT_DETAIL_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else ENROLLMENT_DETAIL_FIELDS

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None:
            return super().get_form(request, obj, change, **kwargs)
        form = super().get_form(request, obj, change, form=EnrollByHandForm, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "contact":  # only contacts this person may see
            kwargs["queryset"] = self.admin_site.get_model_admin(Contact).get_queryset(request)
        elif db_field.name == "journey":
            kwargs["queryset"] = Journey.objects.filter(is_active=True).order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Enrollment, form: Any, change: bool) -> None:
        """Nothing to save: EnrollByHandForm's service call enrolled the contact."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Without an object this is the permission for the actions; an enrollment's own page
        # is read-only whatever the permissions.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Unenroll selected", permissions=["change"])
    def unenroll(
        self, request: HttpRequest, queryset: QuerySet[Enrollment]
    ) -> TemplateResponse | None:
        """A confirmation page first (with an optional reason for the timeline)."""
        queryset = queryset.select_related("contact", "journey", "stage__journey")
        if "confirm" not in request.POST:
            context = {
                **self.admin_site.each_context(request),
                "title": "Unenroll these contacts?",
                "opts": self.opts,
                "enrollments": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/journeys/enrollment_unenroll.html", context)
        reason = request.POST.get("reason", "").strip()[:200]
        _each(
            self,
            request,
            queryset,
            lambda enrollment: enrollment_unenroll(
                enrollment_id=enrollment.pk, actor=request.user, reason=reason
            ),
            "Unenrolled {done} enrollment(s); {refused} refused.",
        )
        return None

    @admin.action(description="Move to the journey's live version", permissions=["change"])
    def move_to_live_version(self, request: HttpRequest, queryset: QuerySet[Enrollment]) -> None:
        _move_to_live_versions(self, request, queryset)


import journeys.playbook.admin  # noqa: E402, F401  (registers the playbook's admin)
