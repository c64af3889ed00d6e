from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

# The site layer composes the apps: availability lives in portal, load and policy in handoffs.
from handoffs.assignment import POOL_ROLES, Person, unavailable_reason
from handoffs.services.ownership import assignment_people
from portal.choices import AssignmentMode, AvailabilityStatus, Role
from portal.errors import InvalidInput, log_not_visible, security_log
from portal.models import WorkingPeriod
from portal.outage import current_outage_response
from portal.selectors import (
    availability_of,
    member_team_ids,
    teams_managed_by,
    teams_visible_to,
    user_home_url,
)
from portal.services import (
    availability_set_hours,
    availability_set_status,
    team_set_assignment_mode,
    time_zone_names,
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect(user_home_url(user=request.user))


def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if (outage := current_outage_response(request)) is not None:
        return outage  # the database is unreachable: 503 + Retry-After (portal/outage.py)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    return render(request, "500.html", status=500)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "You may not do that."}, status=403)
    return render(request, "403.html", status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return render(request, "400.html", status=400)


# --- My availability: status, working hours; a lead's view of their teams ----------------------

WEEKDAY_FIELDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PERIOD = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})$")
PERIOD_HELP = "Like 09:00-17:30, several separated by commas; 22:00-06:00 runs past midnight."


def _parse_periods(text: str) -> list[tuple[time, time]]:
    periods = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _PERIOD.match(part)
        if match is None:
            raise forms.ValidationError(f"{part[:40]!r} is not a period. {PERIOD_HELP}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h2 == 24 and m2 == 0:
            h2 = 0  # 24:00 is the end of the day: midnight
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise forms.ValidationError(f"{part[:40]!r} is not a time of day. {PERIOD_HELP}")
        periods.append((time(h1, m1), time(h2, m2)))
    return periods


def _format_periods(periods: list[WorkingPeriod]) -> dict[str, str]:
    by_day: dict[str, list[str]] = {name: [] for name in WEEKDAY_FIELDS}
    for p in periods:
        by_day[WEEKDAY_FIELDS[p.weekday]].append(f"{p.starts:%H:%M}-{p.ends:%H:%M}")
    return {name: ", ".join(parts) for name, parts in by_day.items()}


class WorkingHoursForm(forms.Form):
    time_zone = forms.CharField(max_length=64)
    mon = forms.CharField(required=False, max_length=300, label="Monday")
    tue = forms.CharField(required=False, max_length=300, label="Tuesday")
    wed = forms.CharField(required=False, max_length=300, label="Wednesday")
    thu = forms.CharField(required=False, max_length=300, label="Thursday")
    fri = forms.CharField(required=False, max_length=300, label="Friday")
    sat = forms.CharField(required=False, max_length=300, label="Saturday")
    sun = forms.CharField(required=False, max_length=300, label="Sunday")

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        if name not in time_zone_names():
            raise forms.ValidationError(f"Unknown time zone {name[:64]!r}; e.g. Europe/London.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        periods: list[tuple[int, time, time]] = []
        for weekday, name in enumerate(WEEKDAY_FIELDS):
            if name in data:
                try:
                    periods += [(weekday, a, b) for a, b in _parse_periods(data[name])]
                except forms.ValidationError as exc:
                    self.add_error(name, exc)
        data["periods"] = periods
        return data


@dataclass(frozen=True)
class MemberRow:
    person: Person
    role: str
    status: str
    local_time: datetime | None
    reason: str | None  # why auto-assignment passes them over now; None = eligible
    takes: str  # "pool" or "offered only"


def _member_rows(people: list[Person], now: datetime) -> list[MemberRow]:
    rows = []
    for p in people:
        zone = ZoneInfo(p.time_zone) if p.time_zone in time_zone_names() else None
        rows.append(
            MemberRow(
                person=p,
                role=Role(p.role).label,
                status=AvailabilityStatus(p.status).label,
                local_time=now.astimezone(zone) if zone else None,
                reason=unavailable_reason(p, now),
                takes="pool" if p.role in POOL_ROLES else "offered only",
            )
        )
    return rows


def _availability_page(
    request: HttpRequest,
    *,
    form: WorkingHoursForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    availability = availability_of(user=user)
    periods = list(availability.periods.all()) if availability.pk else []
    if form is None:
        form = WorkingHoursForm(
            initial={"time_zone": availability.time_zone, **_format_periods(periods)}
        )
    managed = list(teams_managed_by(user=user))
    now = timezone.now()
    people = assignment_people(team_ids=member_team_ids(user=user) | {t.pk for t in managed})
    me = next((p for team in people.values() for p in team if p.user_id == user.pk), None)
    context = {
        "availability": availability,
        "statuses": AvailabilityStatus.choices,
        "form": form,
        "hour_fields": [form[name] for name in WEEKDAY_FIELDS],
        "period_help": PERIOD_HELP,
        "time_zones": sorted(time_zone_names()),
        "me": _member_rows([me], now)[0] if me else None,
        "teams": [(team, _member_rows(people.get(team.pk, []), now)) for team in managed],
        "assignment_modes": AssignmentMode.choices,
        "error": error,
    }
    return render(request, "portal/availability.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def my_availability(request: HttpRequest) -> HttpResponse:
    """My status, working hours and capacity; leads also see their teams' people."""
    if request.method == "GET":
        return _availability_page(request)
    form = WorkingHoursForm(request.POST)
    if not form.is_valid():
        return _availability_page(
            request, form=form, error="Your working hours were not saved.", status=400
        )
    try:
        availability_set_hours(
            user=request.user,
            time_zone=form.cleaned_data["time_zone"],
            periods=form.cleaned_data["periods"],
        )
    except InvalidInput as exc:
        return _availability_page(request, form=form, error=exc.detail, status=400)
    flash.success(request, "Working hours saved.")
    return redirect("my-availability")


@login_required
@require_http_methods(["GET", "POST"])
def my_status(request: HttpRequest) -> HttpResponse:
    """The topbar's status control (htmx fragment), and the POST that changes my status."""
    if request.method == "GET":
        return _status_control(request)
    try:
        availability = availability_set_status(
            user=request.user, status=request.POST.get("status", "")[:20]
        )
    except InvalidInput as exc:
        if request.htmx:
            return _status_control(request, error=exc.detail, status=400)
        return _availability_page(request, error=exc.detail, status=400)
    label = availability.get_status_display()
    if request.htmx:
        return _status_control(request, announce=f"Status set to {label}.")
    flash.success(request, f"Status set to {label}.")
    return redirect("my-availability")


def _status_control(
    request: HttpRequest, *, announce: str = "", error: str = "", status: int = 200
) -> HttpResponse:
    context = {
        "availability": availability_of(user=request.user),
        "statuses": AvailabilityStatus.choices,
        "announce": announce,
        "error": error,
    }
    return render(request, "portal/availability.html#status-control", context, status=status)


@login_required
@require_http_methods(["POST"])
def team_assignment_mode(request: HttpRequest, slug: str) -> HttpResponse:
    """A lead or director switches their team between claiming and auto-assignment."""
    team = teams_visible_to(principal=request.user).filter(slug=slug[:50]).first()
    if team is None:
        log_not_visible(request.user, f"team {slug[:50]}")
        raise Http404
    if not teams_managed_by(user=request.user).filter(pk=team.pk).exists():
        security_log.info("denied assignment mode of %s to user %s", slug, request.user.pk)
        return _availability_page(
            request,
            error=f"Only the {team.name} team's leads can change how it assigns work.",
            status=403,
        )
    try:
        team_set_assignment_mode(team=team, mode=request.POST.get("mode", "")[:20], by=request.user)
    except InvalidInput as exc:
        return _availability_page(request, error=exc.detail, status=400)
    flash.success(request, f"{team.name}: {team.get_assignment_mode_display()}.")
    return redirect("my-availability")
