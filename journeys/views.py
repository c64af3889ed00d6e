from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from handoffs.selectors import handoffs_visible_to
from journeys.models import Enrollment
from journeys.selectors import contact_get_for, contact_timeline

TIMELINE_PAGE = 50
MAX_PAGE = 1000


@login_required
@require_GET
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The rep's context view: who this is, where they are in their journeys, and everything
    that has happened, newest first."""
    contact = contact_get_for(principal=request.user, contact_id=contact_id)
    try:
        page = min(MAX_PAGE, max(1, int(request.GET.get("page", "1")[:12])))
    except ValueError:
        page = 1
    items = contact_timeline(
        contact=contact,
        principal=request.user,
        offset=(page - 1) * TIMELINE_PAGE,
        limit=TIMELINE_PAGE + 1,
    )
    context = {
        "contact": contact,
        "timeline": items[:TIMELINE_PAGE],
        "next_page": page + 1 if len(items) > TIMELINE_PAGE else None,
        "enrollments": Enrollment.objects.filter(contact=contact)
        .select_related("journey", "stage")
        .order_by("-created_at"),
        "handoffs": handoffs_visible_to(principal=request.user)
        .filter(contact=contact)
        .order_by("-created_at")[:10],
    }
    if request.htmx and request.htmx.target == "timeline-more":
        return render(request, "journeys/contact.html#timeline-page", context)
    return render(request, "journeys/contact.html", context)
