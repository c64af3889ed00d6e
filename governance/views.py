"""Deciding held messages on the handoff page: approve, edit and send, or reject. Views parse,
call the service and re-render the handoff's workspace (htmx) or redirect (a plain post)."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.policies.approvals import approval_decide
from governance.policies.choices import ApprovalDecision
from governance.policies.selectors import approval_get_for
from handoffs.presence import presence_for
from handoffs.selectors import handoff_get_for
from handoffs.ui import handoff_page_context
from portal.errors import DomainError, security_log
from portal.selectors import user_can_manage, user_can_work

ACTIONS = {
    "approve": ApprovalDecision.APPROVED,
    "edit": ApprovalDecision.EDITED,
    "reject": ApprovalDecision.REJECTED,
}


@login_required
@require_POST
def approval_decide_view(request: HttpRequest, approval_id: int, action: str) -> HttpResponse:
    approval = approval_get_for(principal=request.user, approval_id=approval_id)  # 404 if hidden
    handoff_id = approval.handoff_id
    team_id = approval.handoff.team_id
    text = request.POST.get("text", "")
    if action not in ACTIONS:
        return _respond(request, handoff_id, notice="Unknown action.", status=400)
    if not user_can_work(user=request.user, team_id=team_id):
        security_log.info("denied approval %s to user %s", approval_id, request.user.pk)
        return _respond(
            request, handoff_id, notice="Your role cannot decide this team's messages.", status=403
        )
    try:
        decided = approval_decide(
            approval_id=approval_id,
            user=request.user,
            decision=ACTIONS[action],
            text=text,
            may_override=user_can_manage(user=request.user, team_id=team_id),
        )
    except DomainError as exc:
        draft = {approval_id: text} if action == "edit" else {}
        return _respond(request, handoff_id, notice=exc.detail, status=exc.status_code, draft=draft)
    return _respond(request, handoff_id, notice=decided.note)


def _respond(
    request: HttpRequest,
    handoff_id: int,
    *,
    notice: str = "",
    status: int = 200,
    draft: dict[int, str] | None = None,
) -> HttpResponse:
    if not request.htmx:
        if notice:
            (flash.warning if status >= 400 else flash.success)(request, notice)
        return redirect("handoff-detail", handoff_id=handoff_id)
    handoff = handoff_get_for(principal=request.user, handoff_id=handoff_id)
    context = {
        **handoff_page_context(user=request.user, handoff=handoff),
        "presence": presence_for(user=request.user, handoff_id=handoff_id),
        "notice": notice,
        "oob": False,
    }
    if draft:
        context["held"] = [h.with_draft(draft.get(h.approval.pk)) for h in context["held"]]
    # htmx swaps only 2xx answers by default: a refusal still shows, with its notice.
    return render(request, "handoffs/handoff.html#workspace", context, status=200)
