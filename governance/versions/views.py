"""The rule audit and drafts in the portal. Views parse, call one selector or service, render.
People without `view_team_rules` anywhere get a 403 that says why on the audit and drafts
lists; an entry or draft they (or anyone of another team) may not see answers 404, as a missing
one does; only those who may edit a team's rules see Publish and Roll back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from governance.versions.choices import DraftStatus
from governance.versions.forms import AuditFilterForm
from governance.versions.models import RuleDraft, RuleRevision
from governance.versions.registry import governed
from governance.versions.selectors import (
    AuditFilters,
    audit_entries,
    audit_entry_get_for,
    draft_changes,
    draft_get_for,
    drafts_for,
    editable_team_ids,
    may_read_rules,
)
from governance.versions.services import (
    draft_change_remove,
    draft_discard,
    draft_publish,
    rollback_problems,
    version_rollback,
)
from portal.errors import DomainError, security_log

PAGE_SIZE = 25
FORBIDDEN = (
    "Rule history and drafts are for leads, directors, leaders and ops: your role does not read "
    "rules and policies."
)
REPLAY_URL = "/governance/replay/new/?draft={}"  # the replay page's address (governance/replay/)


def _forbidden(request: HttpRequest) -> HttpResponse | None:
    if may_read_rules(user=request.user):
        return None
    security_log.info("denied %s to user %s: no view_team_rules", request.path, request.user.pk)
    return render(request, "governance/versions/forbidden.html", {"reason": FORBIDDEN}, status=403)


def _may_edit(editable: set[int] | None, team_id: int | None) -> bool:
    if editable is None:
        return True
    return team_id is not None and team_id in editable


@dataclass
class EntryRow:
    entry: RuleRevision
    rolled_back_by: RuleRevision | None
    may_roll_back: bool
    kinds: list[str]
    changes: list[tuple[Any, str]]  # (RuleChange, its kind: "Handoff rule")


def _rows(entries: Any, editable: set[int] | None) -> list[EntryRow]:
    specs = governed()
    rows = []
    for entry in entries:
        undone = getattr(entry, "rolled_back_by", None)
        changes = [
            (c, specs[f"{c.content_type.app_label}.{c.content_type.model}"].kind)
            for c in entry.changes.all()
        ]
        rows.append(
            EntryRow(
                entry=entry,
                rolled_back_by=undone,
                may_roll_back=undone is None and _may_edit(editable, entry.team_id),
                kinds=sorted({kind for _c, kind in changes}),
                changes=changes,
            )
        )
    return rows


@login_required
def audit_view(request: HttpRequest) -> HttpResponse:
    if denied := _forbidden(request):
        return denied
    form = AuditFilterForm(request.GET or None, user=request.user)
    status = 200
    if form.is_bound and not form.is_valid():
        filters, status = None, 400
    else:
        filters = form.filters() if form.is_bound else AuditFilters()
    editable = editable_team_ids(user=request.user)
    page = None
    if filters is not None:
        page = Paginator(audit_entries(user=request.user, filters=filters), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": _rows(page.object_list, editable) if page else [],
        "query": query.urlencode(),
        "may_edit_any": editable is None or bool(editable),
    }
    return render(request, "governance/versions/audit.html", context, status=status)


@login_required
def audit_entry_view(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = audit_entry_get_for(user=request.user, entry_id=entry_id)
    editable = editable_team_ids(user=request.user)
    return render(
        request,
        "governance/versions/entry.html",
        {"row": _rows([entry], editable)[0], "problems": rollback_problems(entry)},
    )


@login_required
def rollback_view(request: HttpRequest, entry_id: int) -> HttpResponse:
    """GET: what the roll back would restore, and a confirm button. POST: roll it back."""
    entry = audit_entry_get_for(user=request.user, entry_id=entry_id)
    editable = editable_team_ids(user=request.user)
    row = _rows([entry], editable)[0]
    if not _may_edit(editable, entry.team_id):
        security_log.info("denied roll back of entry %s to user %s", entry_id, request.user.pk)
        return render(
            request,
            "governance/versions/forbidden.html",
            {"reason": "Only ops who edit these rules roll them back; you can read the entry."},
            status=403,
        )
    error, status = "", 200
    if request.method == "POST":
        try:
            done = version_rollback(
                entry_id=entry.pk, user=request.user, comment=request.POST.get("comment", "")[:300]
            )
        except DomainError as refused:
            error, status = refused.detail, refused.status_code
        else:
            messages.success(
                request, f"Rolled back entry #{entry.pk}; recorded as entry #{done.pk}."
            )
            return redirect(f"{reverse('governance-audit')}#entry-{done.pk}")
    context = {"row": row, "error": error, "problems": rollback_problems(entry)}
    return render(request, "governance/versions/rollback.html", context, status=status)


# --- drafts ------------------------------------------------------------------------------------


@login_required
def draft_list_view(request: HttpRequest) -> HttpResponse:
    if denied := _forbidden(request):
        return denied
    drafts = list(drafts_for(user=request.user)[:100])
    context = {
        "open": [d for d in drafts if d.status == DraftStatus.OPEN],
        "closed": [d for d in drafts if d.status != DraftStatus.OPEN][:30],
    }
    return render(request, "governance/versions/drafts.html", context)


def _admin_url(change: Any) -> str:
    content_type = change.content_type
    try:
        if change.object_id is None:
            return reverse(f"admin:{content_type.app_label}_{content_type.model}_changelist")
        return reverse(
            f"admin:{content_type.app_label}_{content_type.model}_change", args=[change.object_id]
        )
    except NoReverseMatch:
        return ""


def _draft_page(
    request: HttpRequest,
    draft: RuleDraft,
    *,
    error: str = "",
    errors: Any = None,
    status: int = 200,
) -> HttpResponse:
    editable = editable_team_ids(user=request.user)
    changes = draft_changes(draft)
    for view in changes:
        view.admin_url = _admin_url(view.change)  # type: ignore[attr-defined]
    context = {
        "draft": draft,
        "changes": changes,
        "stale": any(c.problems for c in changes),
        "may_edit": draft.status == DraftStatus.OPEN and _may_edit(editable, draft.team_id),
        "replay_url": REPLAY_URL.format(draft.pk),
        "error": error,
        "errors": errors or [],
    }
    return render(request, "governance/versions/draft.html", context, status=status)


@login_required
def draft_view(request: HttpRequest, draft_id: int) -> HttpResponse:
    return _draft_page(request, draft_get_for(user=request.user, draft_id=draft_id))


@login_required
@require_POST
def draft_publish_view(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = draft_get_for(user=request.user, draft_id=draft_id)
    try:
        entry = draft_publish(draft_id=draft.pk, user=request.user)
    except DomainError as refused:
        problems = refused.errors.get("changes") or [
            m for msgs in refused.errors.values() for m in msgs
        ]
        draft.refresh_from_db()
        return _draft_page(
            request, draft, error=refused.detail, errors=problems, status=refused.status_code
        )
    messages.success(
        request, f"Published draft #{draft.pk}: it is live, recorded as entry #{entry.pk}."
    )
    return redirect(f"{reverse('governance-audit')}#entry-{entry.pk}")


@login_required
@require_POST
def draft_discard_view(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = draft_get_for(user=request.user, draft_id=draft_id)
    try:
        draft_discard(draft_id=draft.pk, user=request.user)
    except DomainError as refused:
        return _draft_page(request, draft, error=refused.detail, status=refused.status_code)
    messages.success(request, f"Discarded draft #{draft.pk}; nothing in it went live.")
    return redirect("governance-drafts")


@login_required
@require_POST
def draft_change_remove_view(request: HttpRequest, draft_id: int, change_id: int) -> HttpResponse:
    draft = draft_get_for(user=request.user, draft_id=draft_id)
    if not draft.changes.filter(pk=change_id).exists():
        return _draft_page(request, draft, error="That change is not in this draft.", status=404)
    try:
        draft_change_remove(user=request.user, change_id=change_id)
    except DomainError as refused:
        return _draft_page(request, draft, error=refused.detail, status=refused.status_code)
    messages.success(request, "Removed the change from the draft.")
    return redirect("governance-draft", draft.pk)
