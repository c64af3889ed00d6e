"""The playbook in Django admin: ops read the rows of the teams they may read plus the shared
ones (no team), and change the rows of the teams whose rules they edit. A shared row serves
every team, so only a superuser or someone who edits every team's rules may change it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from handoffs.choices import Trigger
from journeys import rules
from journeys.choices import LoopStage
from journeys.playbook.choices import Persona
from journeys.playbook.documents import REPLY_PATHS_HELP, body_errors
from journeys.playbook.models import ContentItem, NextStepRule, PlaybookItem, ReplyTemplate
from journeys.playbook.services import playbook_item_delete, playbook_item_save
from portal.admin import TeamScopedAdmin
from portal.models import Team
from portal.roles import EDIT_RULES, VIEW_RULES
from portal.selectors import teams_with_perm


def _tags(choices: list[tuple[str, str]], label: str, help_text: str) -> forms.Field:
    return forms.MultipleChoiceField(
        choices=choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=label,
        help_text=help_text + " None ticked: any.",
    )


class PlaybookForm(forms.ModelForm):
    loop_stages = _tags(LoopStage.choices, "Loop stages", "The contact's live journeys' stage.")
    triggers = _tags(Trigger.choices, "Handoff triggers", "The trigger of the open handoff.")


class NextStepRuleForm(PlaybookForm):
    class Meta:
        model = NextStepRule
        fields = [
            "title",
            "detail",
            "loop_stages",
            "triggers",
            "condition",
            "team",
            "weight",
            "active",
        ]
        widgets = {
            "detail": forms.Textarea(attrs={"rows": 4, "cols": 80}),
            "condition": forms.Textarea(attrs={"rows": 4, "cols": 80}),
        }

    def clean_condition(self) -> Any:
        condition = self.cleaned_data["condition"] or {}
        if condition:
            errors = rules.condition_errors(condition)
            if errors:
                raise forms.ValidationError(errors)
        return condition


class ContentItemForm(PlaybookForm):
    personas = _tags(Persona.choices, "Personas", "The contact's persona (from its signals).")

    class Meta:
        model = ContentItem
        fields = [
            "title",
            "url",
            "summary",
            "loop_stages",
            "triggers",
            "personas",
            "team",
            "active",
        ]


class ReplyTemplateForm(PlaybookForm):
    class Meta:
        model = ReplyTemplate
        fields = ["name", "body", "loop_stages", "triggers", "team", "active"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8, "cols": 80})}
        help_texts = {
            "body": "The draft, with {placeholders}: "
            + REPLY_PATHS_HELP
            + ". The rep edits it and sends it; nothing is sent by itself."
        }

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        errors = body_errors(body)
        if errors:
            raise forms.ValidationError(errors)
        return body


def _labels(values: list[str], choices: type[Any]) -> str:
    return ", ".join(choices(v).label for v in values if v in choices.values) or "any"


class PlaybookAdmin(TeamScopedAdmin):
    team_codename = VIEW_RULES
    list_filter = ["active", "team"]
    list_select_related = ["team"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return qs
        readable = teams_with_perm(principal=request.user, codename=VIEW_RULES)
        return qs.filter(Q(team__isnull=True) | Q(team__in=readable))

    def _editable(self, request: HttpRequest) -> QuerySet[Team]:
        return teams_with_perm(principal=request.user, codename=EDIT_RULES)

    def _edits_every_team(self, request: HttpRequest) -> bool:
        return not Team.objects.exclude(id__in=self._editable(request)).exists()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        if obj.team_id is None:
            return self._edits_every_team(request)
        return self._editable(request).filter(id=obj.team_id).exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self.has_change_permission(
            request, obj
        )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "team" and not request.user.is_superuser:
            kwargs["queryset"] = self._editable(request)
            if not self._edits_every_team(request):
                kwargs["required"] = True  # a shared row is for someone who edits every team
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: PlaybookItem, form: Any, change: bool) -> None:
        playbook_item_save(item=obj, actor=request.user, changed=form.changed_data)

    def delete_model(self, request: HttpRequest, obj: PlaybookItem) -> None:
        playbook_item_delete(item=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for item in queryset:
            playbook_item_delete(item=item, actor=request.user)

    @admin.display(description="Loop stages")
    def stages(self, obj: PlaybookItem) -> str:
        return _labels(obj.loop_stages, LoopStage)

    @admin.display(description="Triggers")
    def trigger_tags(self, obj: PlaybookItem) -> str:
        return _labels(obj.triggers, Trigger)

    @admin.display(description="Team", ordering="team__name")
    def team_or_all(self, obj: PlaybookItem) -> str:
        return obj.team.name if obj.team else "every team"


@admin.register(NextStepRule)
class NextStepRuleAdmin(PlaybookAdmin):
    form = NextStepRuleForm
    list_display = [
        "title",
        "stages",
        "trigger_tags",
        "has_condition",
        "team_or_all",
        "weight",
        "active",
    ]
    search_fields = ["title", "detail"]

    @admin.display(description="Condition", boolean=True)
    def has_condition(self, obj: NextStepRule) -> bool:
        return bool(obj.condition)


@admin.register(ContentItem)
class ContentItemAdmin(PlaybookAdmin):
    form = ContentItemForm
    list_display = ["title", "stages", "trigger_tags", "persona_tags", "team_or_all", "active"]
    search_fields = ["title", "summary", "url"]

    @admin.display(description="Personas")
    def persona_tags(self, obj: ContentItem) -> str:
        return _labels(obj.personas, Persona)


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(PlaybookAdmin):
    form = ReplyTemplateForm
    list_display = ["name", "stages", "trigger_tags", "team_or_all", "active"]
    search_fields = ["name", "body"]
