"""Replay pages (docs/replay.md): start a replay of a draft, watch its progress, read the live
and draft columns side by side. Views parse, call one service or selector, and render."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from governance.replay.models import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS
from governance.replay.ruleset import describe, ruleset_live
from governance.replay.selectors import (
    comparison,
    draft_changes,
    draft_get_for,
    drafts_for,
    headline,
    reads_rules,
    run_get_for,
    runs_visible_to,
    start_scope,
)
from governance.replay.services import days_parse, replay_start, team_scope_parse
from portal.errors import DomainError, log_not_visible

RECENT = 15


@login_required
@require_http_methods(["GET", "POST"])
def replay_start_view(request: HttpRequest) -> HttpResponse:
    scope = start_scope(user=request.user)
    if not scope.any:
        log_not_visible(request.user, "replay start")
        raise Http404("No such page")
    source = request.POST if request.method == "POST" else request.GET
    raw_draft = source.get("draft", "")
    context: dict[str, Any] = {
        "scope": scope,
        "days": source.get("days", DEFAULT_DAYS),
        "min_days": MIN_DAYS,
        "max_days": MAX_DAYS,
        "team_choice": source.get("team", ""),
        "errors": {},
        "runs": list(runs_visible_to(user=request.user)[:RECENT]),
    }
    if not raw_draft:
        context["drafts"] = drafts_for(user=request.user)
        return render(request, "governance/replay/start.html", context)
    if not raw_draft.isdigit():
        raise Http404("No such draft")
    draft = draft_get_for(user=request.user, draft_id=int(raw_draft))  # 404 when not theirs
    context["draft"] = draft
    live = ruleset_live()
    context["changes"] = [describe(c, live) for c in draft_changes(draft=draft)]
    if not context["team_choice"]:
        context["team_choice"] = str(draft.team_id) if draft.team_id else "all"
    if request.method == "GET":
        return render(request, "governance/replay/start.html", context)
    try:
        run = replay_start(
            user=request.user,
            draft_id=draft.pk,
            days=days_parse(request.POST.get("days")),
            team_id=team_scope_parse(request.POST.get("team")),
        )
    except DomainError as exc:
        context["error"] = exc.detail
        context["errors"] = exc.errors
        return render(request, "governance/replay/start.html", context, status=400)
    return redirect("replay-run", run_id=run.pk)


@login_required
@require_GET
def replay_run_view(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_get_for(user=request.user, run_id=run_id)  # 404 when not theirs
    context: dict[str, Any] = {"run": run}
    if run.status == "done":
        context["sections"] = comparison(run=run)
        context["headline"] = headline(run=run)
    if request.htmx:
        return render(request, "governance/replay/run.html#status", context)
    return render(request, "governance/replay/run.html", context)


@login_required
@require_GET
def replay_list_view(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_superuser or reads_rules(user=request.user)):
        log_not_visible(request.user, "replay list")
        raise Http404("No such page")
    context = {
        "runs": list(runs_visible_to(user=request.user)[:50]),
        "may_start": start_scope(user=request.user).any,
        "drafts": drafts_for(user=request.user),
    }
    return render(request, "governance/replay/list.html", context)
