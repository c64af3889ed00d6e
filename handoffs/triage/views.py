"""The handoff page's "Save as FAQ candidate" button: parse, check the person may work the
handoff's team, call the service, and answer like the page's other actions."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from handoffs.triage.services import faq_candidate_from_handoff
from handoffs.views import _respond, _workable
from portal.errors import DomainError

SAVED = "Saved as a FAQ candidate: ops review it in admin before the bot uses it."
ALREADY = "Already saved as a FAQ candidate."


@login_required
@require_POST
def faq_candidate(request: HttpRequest, handoff_id: int) -> HttpResponse:
    if _workable(request, handoff_id) is None:  # 404 if not visible; read-only roles refused
        return _respond(request, handoff_id, notice="Your role cannot work this team's handoffs.")
    try:
        _entry, new = faq_candidate_from_handoff(handoff_id=handoff_id, user=request.user)
    except DomainError as exc:
        return _respond(request, handoff_id, notice=exc.detail)
    return _respond(request, handoff_id, notice=SAVED if new else ALREADY)
