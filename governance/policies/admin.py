"""Ops edit caps, quiet hours and tone rules here, scoped to their teams: they read the rules
of teams they may read (and the organisation-wide ones) and change those of teams they may edit;
organisation-wide rules are a superuser's. Decisions and approvals are read-only records."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from governance import tone
from governance.policies.choices import PromiseKind, ToneKind
from governance.policies.models import Approval, FrequencyCap, QuietHours, ToneRule, TouchDecision
from governance.policies.rules import tone_rule, tone_rules_for
from governance.policies.selectors import highlight
from governance.versions.admin import VersionedAdminMixin
from handoffs.choices import Channel
from portal.choices import Weekday
from portal.models import Team
from portal.roles import EDIT_RULES, VIEW_RULES
from portal.selectors import teams_with_perm

ORGANISATION_WIDE = "Organisation-wide"


def _checkboxes(choices: Any, help_text: str) -> forms.TypedMultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=help_text,
    )


class ChannelsMixin(forms.ModelForm):
    channels = _checkboxes(Channel.choices, "None ticked: every channel.")


class FrequencyCapForm(ChannelsMixin):
    class Meta:
        model = FrequencyCap
        fields = ["name", "team", "active", "limit", "window_amount", "window_unit"]
        fields += ["channels", "action"]


class QuietHoursForm(ChannelsMixin):
    weekdays = _checkboxes(
        Weekday.choices, "Days the quiet period starts on; none ticked: every day."
    )

    class Meta:
        model = QuietHours
        fields = ["name", "team", "active", "starts", "ends", "weekdays", "channels", "action"]
        widgets = {
            "starts": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "ends": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def clean_weekdays(self) -> list[int]:
        return sorted(int(day) for day in self.cleaned_data.get("weekdays") or [])


class ToneRuleForm(ChannelsMixin):
    promise_kinds = _checkboxes(
        PromiseKind.choices, "Promise rules: the detectors to run; none ticked: all of them."
    )

    class Meta:
        model = ToneRule
        fields = ["name", "team", "active", "kind", "phrases", "channels", "promise_kinds"]
        fields += ["approval_expires_minutes", "expiry_action"]
        widgets = {"phrases": forms.Textarea(attrs={"rows": 6, "cols": 60})}


class PolicyAdmin(VersionedAdminMixin, admin.ModelAdmin):
    """Team scoping for rules with an optional team (none: organisation-wide); every change
    versioned, or saved as a draft (governance/versions/)."""

    list_filter = ["active", "team"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request).select_related("team")
        if request.user.is_superuser:
            return qs
        readable = teams_with_perm(principal=request.user, codename=VIEW_RULES)
        return qs.filter(Q(team__isnull=True) | Q(team__in=readable))

    def _editable_team_ids(self, request: HttpRequest) -> set[int]:
        teams = teams_with_perm(principal=request.user, codename=EDIT_RULES)
        return set(teams.values_list("id", flat=True))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return obj.team_id is not None and obj.team_id in self._editable_team_ids(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj) and super().has_delete_permission(
            request, obj
        )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "team" and not request.user.is_superuser:
            kwargs["queryset"] = teams_with_perm(principal=request.user, codename=EDIT_RULES)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if "team" in form.base_fields and request.user.is_superuser:
            form.base_fields["team"].empty_label = f"{ORGANISATION_WIDE} (every team)"
        elif "team" in form.base_fields:
            # Only superusers write organisation-wide rules: everyone else picks a team.
            form.base_fields["team"].required = True
            form.base_fields["team"].empty_label = None
        return form

    @admin.display(description="Team", ordering="team__name")
    def scope(self, obj: Any) -> str:
        return obj.team.name if obj.team else ORGANISATION_WIDE

    @admin.display(description="Channels")
    def channel_list(self, obj: Any) -> str:
        return ", ".join(Channel(c).label for c in obj.channels) if obj.channels else "every"


@admin.register(FrequencyCap)
class FrequencyCapAdmin(PolicyAdmin):
    form = FrequencyCapForm
    list_display = ["name", "scope", "rule", "channel_list", "action", "active"]
    list_filter = ["active", "action", "team"]

    @admin.display(description="Cap")
    def rule(self, obj: FrequencyCap) -> str:
        if obj.limit == 0:
            return "never"
        unit = obj.get_window_unit_display()
        return f"≤ {obj.limit} per {obj.window_amount} {unit}"


@admin.register(QuietHours)
class QuietHoursAdmin(PolicyAdmin):
    form = QuietHoursForm
    list_display = ["name", "scope", "hours", "days", "channel_list", "action", "active"]
    list_filter = ["active", "action", "team"]

    @admin.display(description="Quiet (contact's local time)")
    def hours(self, obj: QuietHours) -> str:
        return f"{obj.starts:%H:%M}–{obj.ends:%H:%M}"

    @admin.display(description="Days")
    def days(self, obj: QuietHours) -> str:
        if not obj.weekdays or len(obj.weekdays) == 7:
            return "every day"
        return ", ".join(Weekday(d).label[:3] for d in sorted(obj.weekdays))


class PreviewForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        max_length=5000,
        help_text="Paste any text: a journey step's template, an AI draft, a reply.",
    )
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.EMAIL)
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        required=False,
        empty_label="Organisation-wide rules only",
        help_text="Check against the rules that govern this team's touches (its own and the "
        "organisation-wide ones).",
    )


@admin.register(ToneRule)
class ToneRuleAdmin(PolicyAdmin):
    form = ToneRuleForm
    list_display = ["name", "scope", "kind", "phrase_count", "channel_list", "active"]
    list_filter = ["active", "kind", "team"]
    actions = ["preview_selected"]
    change_list_template = "governance/admin/tonerule_change_list.html"

    @admin.display(description="Phrases")
    def phrase_count(self, obj: ToneRule) -> str:
        phrases = obj.phrase_list
        if obj.kind == ToneKind.PROMISE:
            kinds = obj.promise_kinds or PromiseKind.values
            extra = f" + {len(phrases)} phrase(s)" if phrases else ""
            return ", ".join(PromiseKind(k).label.lower() for k in kinds) + extra
        return "; ".join(phrases[:3]) + (" …" if len(phrases) > 3 else "")

    def get_urls(self) -> list[Any]:
        preview = self.admin_site.admin_view(self.preview_view)
        return [
            path("preview/", preview, name="governance_tonerule_preview"),
            *super().get_urls(),
        ]

    @admin.action(description="Preview text against the selected rules", permissions=["view"])
    def preview_selected(self, request: HttpRequest, queryset: QuerySet[ToneRule]) -> HttpResponse:
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(f"{reverse('admin:governance_tonerule_preview')}?rules={ids}")

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """Paste text, pick a channel (and a team, or rules from the list): the findings and the
        text as it would be sent. Reads only; nothing is stored or sent."""
        if not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = PreviewForm(request.POST or None)
        form.fields["team"].queryset = (
            Team.objects.order_by("name")
            if request.user.is_superuser
            else teams_with_perm(principal=request.user, codename=VIEW_RULES).order_by("name")
        )
        chosen = self._chosen_rules(request)
        report = None
        rules: list[tone.ToneRule] = []
        if request.method == "POST" and form.is_valid():
            if chosen is not None:
                rules = [tone_rule(row) for row in chosen]
            else:
                rules = list(tone_rules_for(team=form.cleaned_data["team"])["tone"])
            report = tone.tone_check(
                text=form.cleaned_data["text"], channel=form.cleaned_data["channel"], rules=rules
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Preview text against the tone rules",
            "opts": self.opts,
            "form": form,
            "chosen": chosen,
            "rules": rules,
            "report": report,
            "segments": highlight(
                form.cleaned_data["text"],
                [asdict(f) for f in report.findings] if report else [],
            )
            if report
            else [],
            "verdict": _verdict(report) if report else "",
        }
        return TemplateResponse(request, "governance/admin/tone_preview.html", context)

    def _chosen_rules(self, request: HttpRequest) -> list[ToneRule] | None:
        raw = request.GET.get("rules", "")
        ids = [int(part) for part in raw.split(",") if part.strip().isdigit() and len(part) < 19]
        if not ids:
            return None
        return list(self.get_queryset(request).filter(pk__in=ids).order_by("kind", "id"))


def _verdict(report: tone.ToneReport) -> str:
    if report.blocked:
        return "Blocked: automation would not send this; the contact would go to a person."
    if report.needs_approval:
        return "Held: a person would approve, edit or reject it before it goes."
    if report.findings:
        return "Sent, with the disclosure added."
    return "Sent as is."


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TouchDecision)
class TouchDecisionAdmin(ReadOnlyAdmin):
    """The log of what caps, quiet hours and tone rules did, by rule and period."""

    list_display = ["created_at", "action", "rule_kind", "rule_name", "channel", "contact"]
    list_display += ["step", "reason"]
    list_filter = ["action", "rule_kind", "channel", "team"]
    search_fields = ["rule_name", "reason", "contact__external_id", "contact__name"]
    date_hierarchy = "created_at"
    list_select_related = ["contact"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TouchDecision]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        readable = teams_with_perm(principal=request.user, codename=VIEW_RULES)
        return qs.filter(Q(team__isnull=True) | Q(team__in=readable))


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "handoff_link", "channel", "decision", "expired"]
    list_display += ["decided_by", "expires_at"]
    list_filter = ["decision", "expired", "channel", "handoff__team"]
    list_select_related = ["handoff", "decided_by"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Approval]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        readable = teams_with_perm(principal=request.user, codename=VIEW_RULES)
        return qs.filter(handoff__team__in=readable)

    @admin.display(description="Handoff")
    def handoff_link(self, obj: Approval) -> str:
        url = reverse("handoff-detail", args=[obj.handoff_id])
        return format_html('<a href="{}">#{}</a>', url, obj.handoff_id)
