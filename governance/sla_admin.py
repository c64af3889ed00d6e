"""SLA policies, business-hours calendars, team hours and rules' own SLAs in Django admin
(docs/sla.md). Scoped like the other rules: ops read the rows of teams they may read and change
those of teams they may edit; a calendar with no team is shared, and only superusers change it.
Every mistake is named in words: overlapping periods, an end before its start, an unknown
country or time zone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Case, Q, QuerySet, Value, When
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import timezone

from governance.choices import BreachAction
from governance.models import (
    BusinessCalendar,
    HandoffRuleSla,
    Holiday,
    OpeningPeriod,
    SlaPolicy,
    TeamHours,
)
from governance.selectors import calendar_build
from governance.versions.admin import VersionedAdminMixin
from handoffs.choices import Priority
from handoffs.sla import (
    NeverOpen,
    WorkPeriod,
    holiday_region_problem,
    is_open,
    next_opening,
    overlapping_periods,
)
from journeys.models import HandoffRule
from portal.admin import TeamScopedAdmin
from portal.choices import Weekday
from portal.roles import EDIT_RULES, VIEW_RULES
from portal.selectors import teams_with_perm
from portal.services import time_zone_names
from portal.timefmt import duration_label


class TeamRulesAdmin(VersionedAdminMixin, TeamScopedAdmin):
    """Read with `view_team_rules`, change with `edit_team_rules`, as for handoff rules; every
    change versioned, or saved as a draft (governance/versions/)."""

    team_codename = VIEW_RULES

    def _editable(self, request: HttpRequest) -> set[int]:
        return set(
            teams_with_perm(principal=request.user, codename=EDIT_RULES).values_list(
                "id", flat=True
            )
        )

    def row_team_id(self, obj: Any) -> int | None:
        return obj.team_id

    def has_add_permission(self, request: HttpRequest) -> bool:
        if not super().has_add_permission(request):
            return False
        return request.user.is_superuser or bool(self._editable(request))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return self.row_team_id(obj) in self._editable(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self.has_change_permission(
            request, obj
        )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "team" and not request.user.is_superuser:
            kwargs["queryset"] = teams_with_perm(principal=request.user, codename=EDIT_RULES)
            kwargs["required"] = True  # a shared row is a superuser's
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


PRIORITY_ORDER = [Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW]
BREACH_SHORT = {
    BreachAction.FLAG_ONLY: "flag only",
    BreachAction.NOTIFY_LEAD: "notify the lead",
    BreachAction.REASSIGN_TO_LEAD: "give to the lead",
}


def _minutes(value: int | None) -> str:
    """Business time as hours and minutes ("42 h 30 min"): never days, which would read as
    calendar days when the team is open 8½ hours a day."""
    if not value:
        return "—"
    if value < 60:
        return duration_label(timedelta(minutes=value))
    hours, minutes = divmod(value, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _period_label(period: WorkPeriod) -> str:
    return f"{Weekday(period.weekday).label} {period.starts:%H:%M}–{period.ends:%H:%M}"


def _now_label(row: BusinessCalendar | None) -> str:
    """ "Open now" or "Closed — opens Mon 23 Nov 09:00 GMT", on the calendar's own clock."""
    if row is None:
        return "Open 24/7"
    calendar = calendar_build(row)
    now = timezone.now()
    if is_open(now, calendar):
        return "Open now"
    try:
        opens = next_opening(now, calendar).astimezone(calendar.zone)
    except NeverOpen:
        return "Closed — never opens"
    return f"Closed — opens {opens:%a %-d %b %H:%M %Z}"


# --- calendars ---------------------------------------------------------------------------------

DAY_SHORT = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def hours_summary(periods: list[OpeningPeriod]) -> str:
    """ "Mon–Fri 09:00–12:30, 13:30–17:30": weekdays with the same hours run together."""
    by_day: dict[int, list[str]] = {d: [] for d in range(7)}
    for p in sorted(periods, key=lambda p: (p.weekday, p.starts)):
        by_day[p.weekday].append(f"{p.starts:%H:%M}–{p.ends:%H:%M}")
    runs: list[tuple[int, int, list[str]]] = []
    for day in range(7):
        if by_day[day] and runs and runs[-1][1] == day - 1 and runs[-1][2] == by_day[day]:
            runs[-1] = (runs[-1][0], day, by_day[day])
        elif by_day[day]:
            runs.append((day, day, by_day[day]))
    parts = [
        (DAY_SHORT[a] if a == b else f"{DAY_SHORT[a]}–{DAY_SHORT[b]}") + " " + ", ".join(hours)
        for a, b, hours in runs
    ]
    return "; ".join(parts) or "never open"


class OpeningPeriodFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        periods = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            if None in (data.get("weekday"), data.get("starts"), data.get("ends")):
                continue
            periods.append(WorkPeriod(int(data["weekday"]), data["starts"], data["ends"]))
        clashes = overlapping_periods(periods)
        if clashes:
            raise forms.ValidationError(
                [
                    f"{_period_label(p)} overlaps {_period_label(q)}: shorten one, or make "
                    "them one period."
                    for p, q in clashes
                ]
            )
        if not periods and not self.instance.always_open and not any(self.errors):
            raise forms.ValidationError(
                "Add at least one opening period, or tick “open 24/7”: a calendar that never "
                "opens would never start an SLA clock."
            )


class OpeningPeriodInline(admin.TabularInline):
    model = OpeningPeriod
    formset = OpeningPeriodFormSet
    extra = 1
    fields = ["weekday", "starts", "ends", "overnight"]


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1
    fields = ["date", "name"]


class BusinessCalendarForm(forms.ModelForm):
    class Meta:
        model = BusinessCalendar
        fields = [
            "name",
            "team",
            "time_zone",
            "always_open",
            "holiday_country",
            "holiday_subdivision",
        ]

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        if name not in time_zone_names():
            raise forms.ValidationError(f"Unknown time zone {name[:64]!r}; e.g. Europe/London.")
        return name

    def clean_holiday_country(self) -> str:
        return self.cleaned_data["holiday_country"].strip().upper()

    def clean_holiday_subdivision(self) -> str:
        return self.cleaned_data["holiday_subdivision"].strip().upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        country = data.get("holiday_country", "")
        subdivision = data.get("holiday_subdivision", "")
        if problem := holiday_region_problem(country, subdivision):
            field = (
                "holiday_subdivision" if country and "subdivision" in problem else "holiday_country"
            )
            self.add_error(field, problem)
        return data


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(TeamRulesAdmin):
    form = BusinessCalendarForm
    inlines = [OpeningPeriodInline, HolidayInline]
    list_display = ["name", "team", "time_zone", "hours", "holiday_region", "now", "used_by"]
    list_filter = [("team", admin.RelatedOnlyFieldListFilter), "always_open"]
    search_fields = ["name"]
    readonly_fields = ["now", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BusinessCalendar]:
        qs = (
            super(TeamScopedAdmin, self)  # the plain queryset: shared calendars have no team
            .get_queryset(request)
            .select_related("team")
            .prefetch_related("periods", "holidays", "teams__team")
        )
        if request.user.is_superuser:
            return qs
        readable = teams_with_perm(principal=request.user, codename=VIEW_RULES)
        return qs.filter(Q(team__in=readable) | Q(team__isnull=True))

    @admin.display(description="Hours")
    def hours(self, obj: BusinessCalendar) -> str:
        return "24/7" if obj.always_open else hours_summary(list(obj.periods.all()))

    @admin.display(description="Public holidays")
    def holiday_region(self, obj: BusinessCalendar) -> str:
        region = "/".join(filter(None, [obj.holiday_country, obj.holiday_subdivision]))
        extra = len(obj.holidays.all())
        return ", ".join(filter(None, [region, f"+{extra} dates" if extra else ""])) or "—"

    @admin.display(description="Now")
    def now(self, obj: BusinessCalendar) -> str:
        return _now_label(obj) if obj.pk else "—"

    @admin.display(description="Used by")
    def used_by(self, obj: BusinessCalendar) -> str:
        return ", ".join(sorted(h.team.name for h in obj.teams.all())) or "—"


# --- team hours ----------------------------------------------------------------------------------


class TeamHoursForm(forms.ModelForm):
    class Meta:
        model = TeamHours
        fields = ["team", "calendar", "after_hours_reply_enabled", "after_hours_reply"]
        widgets = {"after_hours_reply": forms.Textarea(attrs={"rows": 3, "cols": 80})}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        team, calendar = data.get("team"), data.get("calendar")
        if team is not None and calendar is not None and calendar.team_id not in (None, team.pk):
            self.add_error(
                "calendar",
                f"“{calendar}” is {calendar.team}'s calendar; pick one of {team}'s or a shared "
                "one.",
            )
        if (
            data.get("after_hours_reply_enabled")
            and not (data.get("after_hours_reply") or "").strip()
        ):
            self.add_error("after_hours_reply", "Write the reply, or untick sending it.")
        return data


@admin.register(TeamHours)
class TeamHoursAdmin(TeamRulesAdmin):
    form = TeamHoursForm
    list_display = ["team", "calendar", "now", "after_hours_reply_enabled"]
    list_select_related = ["team", "calendar"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "calendar" and not request.user.is_superuser:
            editable = teams_with_perm(principal=request.user, codename=EDIT_RULES)
            kwargs["queryset"] = BusinessCalendar.objects.filter(
                Q(team__in=editable) | Q(team__isnull=True)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Now")
    def now(self, obj: TeamHours) -> str:
        return _now_label(obj.calendar)


# --- SLA policies and rules' own SLAs ---------------------------------------------------------


@admin.register(SlaPolicy)
class SlaPolicyAdmin(TeamRulesAdmin):
    list_display = [
        "team",
        "priority",
        "first_response",
        "next_response",
        "resolution",
        "pauses",
        "breach",
        "alerts",
    ]
    list_filter = [("team", admin.RelatedOnlyFieldListFilter), "priority", "on_breach"]
    list_select_related = ["team"]

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        """Urgent first, as people read priorities; not alphabetically."""
        rank = Case(
            *(When(priority=p, then=Value(i)) for i, p in enumerate(PRIORITY_ORDER)),
            default=Value(len(PRIORITY_ORDER)),
        )
        return ["team__name", rank.asc()]

    fieldsets = [
        (None, {"fields": ["team", "priority"]}),
        (
            "Due within, in business minutes on the team's calendar",
            {"fields": ["first_response_minutes", "next_response_minutes", "resolution_minutes"]},
        ),
        (
            "The clock and breaches",
            {"fields": ["pause_while_waiting", "on_breach", "alerts_in_business_hours"]},
        ),
    ]

    @admin.display(description="First reply")
    def first_response(self, obj: SlaPolicy) -> str:
        if obj.first_response_minutes:
            return _minutes(obj.first_response_minutes)
        return f"team default ({_minutes(obj.team.first_response_minutes)})"

    @admin.display(description="Next reply")
    def next_response(self, obj: SlaPolicy) -> str:
        return _minutes(obj.next_response_minutes)

    @admin.display(description="Resolution")
    def resolution(self, obj: SlaPolicy) -> str:
        return _minutes(obj.resolution_minutes)

    @admin.display(description="Pauses", boolean=True)
    def pauses(self, obj: SlaPolicy) -> bool:
        return obj.pause_while_waiting

    @admin.display(description="On breach", ordering="on_breach")
    def breach(self, obj: SlaPolicy) -> str:
        return BREACH_SHORT[obj.on_breach]

    @admin.display(description="Alerts in hours", boolean=True)
    def alerts(self, obj: SlaPolicy) -> bool:
        return obj.alerts_in_business_hours


@admin.register(HandoffRuleSla)
class HandoffRuleSlaAdmin(TeamRulesAdmin):
    team_path = "rule__team"
    list_display = ["rule", "team", "first_response"]
    list_select_related = ["rule__team"]

    def row_team_id(self, obj: HandoffRuleSla) -> int | None:
        return obj.rule.team_id

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "rule":
            rules = HandoffRule.objects.select_related("team")
            if not request.user.is_superuser:
                editable = teams_with_perm(principal=request.user, codename=EDIT_RULES)
                rules = rules.filter(team__in=editable)
            kwargs["queryset"] = rules
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Team")
    def team(self, obj: HandoffRuleSla) -> str:
        return obj.rule.team.name

    @admin.display(description="First reply within")
    def first_response(self, obj: HandoffRuleSla) -> str:
        return _minutes(obj.first_response_minutes)
