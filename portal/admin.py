from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from guardian.admin import GuardedModelAdmin

from portal.choices import Role
from portal.models import ApiKey, Availability, Membership, Team, WorkingPeriod
from portal.roles import EDIT_RULES, VIEW_INBOX
from portal.selectors import teams_with_perm
from portal.services import (
    api_key_create,
    api_key_revoke,
    availability_changed_in_admin,
    membership_remove,
    membership_set,
    time_zone_names,
    user_set_active,
)


class TeamScopedAdmin(admin.ModelAdmin):
    """Non-superusers see only rows of teams they may read (`team_path` leads to the team), as in
    the portal: an ops person granted one team does not read the others in admin."""

    team_path: str | tuple[str, ...] = "team"  # several paths: a row any of them leads to
    team_codename = VIEW_INBOX

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        teams = teams_with_perm(principal=request.user, codename=self.team_codename)
        paths = (self.team_path,) if isinstance(self.team_path, str) else self.team_path
        scope = Q()
        for path in paths:
            scope |= Q(**{f"{path}__in": teams})
        return qs.filter(scope).distinct()


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


class TeamForm(forms.ModelForm):
    """Admin builds the fields (every editable one); this only relaxes `assignment_mode`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A form posted without the field (a script written before assignment existed) keeps
        # the team's mode rather than failing; the page always sends it.
        self.fields["assignment_mode"].required = False

    def clean_assignment_mode(self) -> str:
        return self.cleaned_data.get("assignment_mode") or self.instance.assignment_mode


@admin.register(Team)
class TeamAdmin(GuardedModelAdmin, TeamScopedAdmin):
    form = TeamForm
    list_display = ["name", "slug", "first_response_minutes", "assignment_mode"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]
    team_path = "pk"
    team_codename = EDIT_RULES  # ops manage the teams they edit; leaders and reps do not

    def save_model(self, request: HttpRequest, obj: Team, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change and not request.user.is_superuser:
            membership_set(user=request.user, team=obj, role=Role.OPS)  # or they lose it

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Memberships go through the membership service so permissions follow them."""
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        team = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline in formset.forms:
            data = getattr(inline, "cleaned_data", None)
            instance = inline.instance
            if not data:
                continue
            if formset._should_delete_form(inline):
                if instance.pk:
                    membership_remove(user=instance.user, team=team)
                    formset.deleted_objects.append(instance)
                continue
            if not inline.has_changed():
                continue
            previous = Membership.objects.filter(pk=instance.pk).first() if instance.pk else None
            if previous and previous.user_id != data["user"].pk:
                membership_remove(user=previous.user, team=team)
            membership = membership_set(user=data["user"], team=team, role=data["role"])
            if previous:
                formset.changed_objects.append((membership, inline.changed_data))
            else:
                formset.new_objects.append(membership)
        return None


@admin.register(Membership)
class MembershipAdmin(TeamScopedAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["team", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user"]
    team_codename = EDIT_RULES

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "team" and not request.user.is_superuser:
            kwargs["queryset"] = teams_with_perm(principal=request.user, codename=EDIT_RULES)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        if change:
            previous = Membership.objects.get(pk=obj.pk)
            if (previous.user_id, previous.team_id) != (obj.user_id, obj.team_id):
                membership_remove(user=previous.user, team=previous.team)
        membership_set(user=obj.user, team=obj.team, role=obj.role)
        obj.pk = Membership.objects.get(user=obj.user, team=obj.team).pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(user=obj.user, team=obj.team)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for membership in queryset.select_related("user", "team"):
            membership_remove(user=membership.user, team=membership.team)


class WorkingPeriodInline(admin.TabularInline):
    model = WorkingPeriod
    extra = 1


class AvailabilityForm(forms.ModelForm):
    class Meta:
        model = Availability
        fields = ["user", "status", "time_zone", "capacity"]

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        if name not in time_zone_names():
            raise forms.ValidationError(f"Unknown time zone {name[:64]!r}; e.g. Europe/London.")
        return name


@admin.register(Availability)
class AvailabilityAdmin(TeamScopedAdmin):
    """Ops set people's capacity and, when needed, their hours and status; people set their own
    status and hours on /me/availability/."""

    form = AvailabilityForm
    list_display = ["user", "status", "time_zone", "capacity", "last_assigned_at"]
    list_filter = ["status", "user__memberships__team"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user"]
    readonly_fields = ["status_changed_at", "last_assigned_at"]
    inlines = [WorkingPeriodInline]
    team_path = "user__memberships__team"
    team_codename = EDIT_RULES

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user" and not request.user.is_superuser:
            teams = teams_with_perm(principal=request.user, codename=EDIT_RULES)
            kwargs["queryset"] = (
                get_user_model().objects.filter(memberships__team__in=teams).distinct()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Availability, form: Any, change: bool) -> None:
        if "status" in form.changed_data:
            obj.status_changed_at = timezone.now()
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        availability_changed_in_admin(availability=form.instance, by=request.user)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "can_read_handoffs",
        "rate_limit_per_minute",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    fields = [
        "name",
        "can_read_handoffs",
        "teams",
        "can_manage_contact_data",
        "rate_limit_per_minute",
        *readonly_fields,
    ]
    filter_horizontal = ["teams"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = api_key_create(
            name=obj.name,
            can_read_handoffs=obj.can_read_handoffs,
            rate_limit_per_minute=obj.rate_limit_per_minute,
        )
        obj.pk = key.pk
        obj.prefix = key.prefix
        obj.secret_hash = key.secret_hash
        obj.created_at = key.created_at
        messages.warning(request, f"Copy this key now; it is not shown again: {raw}")
        return None

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        count = api_key_revoke(keys=list(queryset), by=request.user)
        self.message_user(request, f"Revoked {count} key(s).")


class BatonUserAdmin(UserAdmin):
    """Django's user admin; unticking "Active" (or deleting someone) also closes their open
    sockets, through portal.services.user_set_active."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            user_set_active(user=obj, active=obj.is_active, by=request.user)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        user_set_active(user=obj, active=False, by=request.user)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for user in queryset:
            user_set_active(user=user, active=False, by=request.user)
        super().delete_queryset(request, queryset)


_user_model = get_user_model()
if admin.site.is_registered(_user_model):
    admin.site.unregister(_user_model)
admin.site.register(_user_model, BatonUserAdmin)


from portal.integrations import admin as integrations_admin  # noqa: E402, F401
