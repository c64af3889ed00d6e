from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from handoffs.selectors import handoffs_visible_to
from journeys.journey_map import journey_map, journeys_overview
from journeys.models import Enrollment, Journey
from journeys.playbook.selectors import playbook_for
from journeys.selectors import (
    TIMELINE_KINDS,
    contact_get_for,
    contact_summary,
    contact_timeline,
    timeline_kinds_parse,
)
from portal.periods import PRESETS, period_parse
from portal.selectors import teams_visible_to

TIMELINE_PAGE = 50
MAX_PAGE = 1000


@login_required
@require_GET
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The rep's context view: who this is, a summary of what happened lately, what the playbook
    recommends (next steps, content, reply drafts), where they are in their journeys, and
    everything that has happened, newest first (filterable by kind)."""
    contact = contact_get_for(principal=request.user, contact_id=contact_id)
    try:
        page = min(MAX_PAGE, max(1, int(request.GET.get("page", "1")[:12])))
    except ValueError:
        page = 1
    kinds = timeline_kinds_parse(request.GET.getlist("kind"))
    items = contact_timeline(
        contact=contact,
        principal=request.user,
        offset=(page - 1) * TIMELINE_PAGE,
        limit=TIMELINE_PAGE + 1,
        kinds=kinds,
    )
    filtered = kinds != frozenset(TIMELINE_KINDS)
    context = {
        "contact": contact,
        "timeline": items[:TIMELINE_PAGE],
        "next_page": page + 1 if len(items) > TIMELINE_PAGE else None,
        "kinds": [(kind, filtered and kind in kinds) for kind in TIMELINE_KINDS],
        "kind_query": urlencode([("kind", k) for k in TIMELINE_KINDS if k in kinds])
        if filtered
        else "",
        "enrollments": Enrollment.objects.filter(contact=contact)
        .select_related("journey", "stage")
        .order_by("-created_at"),
        "handoffs": handoffs_visible_to(principal=request.user)
        .filter(contact=contact)
        .order_by("-created_at")[:10],
    }
    if request.htmx and request.htmx.target == "timeline-more":
        return render(request, "journeys/contact.html#timeline-page", context)
    context["summary"] = contact_summary(contact=contact, principal=request.user)
    context["playbook"] = playbook_for(
        contact=contact, principal=request.user, enrollments=list(context["enrollments"])
    )
    return render(request, "journeys/contact.html", context)


def _require_member(request: HttpRequest) -> None:
    """Journey maps are for the people who work the journeys: any team member, and ops."""
    if not (request.user.is_staff or teams_visible_to(principal=request.user).exists()):
        raise PermissionDenied("Journey maps are for members of a team.")


@login_required
@require_GET
def journey_list(request: HttpRequest) -> HttpResponse:
    _require_member(request)
    period, error = period_parse(request.GET)
    context = {
        "summaries": journeys_overview(period=period),
        "period": period,
        "period_error": error,
        "presets": PRESETS,
    }
    return render(request, "journeys/journey_list.html", context, status=400 if error else 200)


@login_required
@require_GET
def journey_detail(request: HttpRequest, journey_id: int) -> HttpResponse:
    """The journey map: stages as columns, steps by mode, contacts at each step now, and each
    stage's time-in-stage and drop-off over the chosen period."""
    _require_member(request)
    journey = get_object_or_404(Journey, pk=journey_id)
    period, error = period_parse(request.GET)
    context = {
        "map": journey_map(journey=journey, period=period),
        "period": period,
        "period_error": error,
        "presets": PRESETS,
    }
    return render(request, "journeys/journey_map.html", context, status=400 if error else 200)
