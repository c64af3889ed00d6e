"""The rep's pages: the live inbox and one handoff. Views parse, call a selector or a service,
and render the full page or, for htmx, the fragment that changed."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from handoffs import services
from handoffs.choices import Priority, Trigger
from handoffs.models import Handoff
from handoffs.presence import HEARTBEAT_SECONDS, TYPING_PING_SECONDS, replying_now
from handoffs.selectors import (
    InboxFilter,
    InboxRows,
    event_log_head,
    handoff_get_for,
    handoff_get_for_work,
    inbox_counts,
    inbox_queryset,
    inbox_row,
)
from handoffs.services.presence import ReplyLocked
from handoffs.ui import handoff_page_context, row_context
from portal.errors import DomainError, security_log
from portal.selectors import teams_visible_to, user_can_manage

PAGE_SIZE = 25


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    teams = list(teams_visible_to(principal=request.user).order_by("name"))
    only = InboxFilter.from_query(request.GET, team_slugs={t.slug for t in teams})
    since = event_log_head()  # read first: the live stream resumes from here, missing nothing
    counts = inbox_counts(user=request.user, only=only, teams=teams)
    rows = InboxRows(inbox_queryset(user=request.user, only=only, teams=teams), counts[only.view])
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **row_context(user=request.user),
        "page": page,
        "view": only.view,
        "team": only.team,
        "filter": only,
        "team_links": [(t, only.query(team=t.slug)) for t in teams],
        "all_teams_link": only.query(team=None),
        "triggers": Trigger.choices,
        "priorities": Priority.choices[::-1],
        "teams": teams,
        "counts": counts,
        "since": since,
        "live": page.number == 1,
    }
    if request.htmx and request.htmx.target == "inbox-list":
        return render(request, "handoffs/inbox.html#list", context)
    return render(request, "handoffs/inbox.html", context)


@login_required
@require_GET
def handoff_detail(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """The handoff page; the conversation shows its newest messages. `?before=<message id>` is
    the page older than that message: the htmx "Load older messages" button gets just those
    messages (inserted above the ones shown), a plain link the whole page at that point."""
    handoff = handoff_get_for(principal=request.user, handoff_id=handoff_id)
    before = _message_id(request.GET.get("before"))
    if before is not None and request.htmx:
        context = handoff_page_context(user=request.user, handoff=handoff, before=before)
        return render(request, "handoffs/handoff.html#thread-page", context)
    return render(request, "handoffs/handoff.html", _page_context(request, handoff, before))


def _message_id(raw: str | None) -> int | None:
    """A message id from the query string; anything else is ignored (the newest page)."""
    if raw and raw.isdigit() and len(raw) < 19:
        return int(raw)
    return None


def _page_context(
    request: HttpRequest, handoff: Handoff, before: int | None = None
) -> dict[str, object]:
    # Who else is viewing or replying arrives over the page's socket as it connects.
    return {
        **handoff_page_context(user=request.user, handoff=handoff, before=before),
        "since": event_log_head(),
        "presence_heartbeat": HEARTBEAT_SECONDS,
        "typing_ping": TYPING_PING_SECONDS,
    }


def _respond(
    request: HttpRequest,
    handoff_id: int,
    *,
    notice: str = "",
    status: int = 200,
    draft: str = "",
    locked_by: str = "",
) -> HttpResponse:
    """After an action: htmx gets the fragment it came from; a plain form post a redirect.
    A reply that was not sent comes back in the box (`draft`); one refused because someone
    else is replying (`locked_by`) asks "send anyway?"."""
    if not request.htmx and locked_by:
        handoff = handoff_get_for(principal=request.user, handoff_id=handoff_id)
        context = {**_page_context(request, handoff), "draft": draft, "locked_by": locked_by}
        return render(request, "handoffs/handoff.html", context, status=409)
    if not request.htmx:
        if notice:
            flash.warning(request, notice)
        return redirect("handoff-detail", handoff_id=handoff_id)
    if request.POST.get("from") == "row":
        handoff = inbox_row(user=request.user, handoff_id=handoff_id)
        only = InboxFilter.from_query(request.POST)  # the inbox the claim came from
        context = {
            **row_context(user=request.user),
            "handoff": handoff,
            "notice": notice,
            "counts": inbox_counts(user=request.user, only=only),
            "view": only.view,
            "filter": only,
        }
        return render(request, "handoffs/inbox.html#row-response", context, status=status)
    handoff = handoff_get_for(principal=request.user, handoff_id=handoff_id)
    context = {
        **handoff_page_context(user=request.user, handoff=handoff),
        "presence": replying_now(user=request.user, handoff=handoff),
        "notice": notice,
        "draft": draft,
        "locked_by": locked_by,
        "oob": False,
    }
    response = render(request, "handoffs/handoff.html#workspace", context, status=status)
    return response


def _workable(request: HttpRequest, handoff_id: int) -> Handoff | None:
    handoff, may_work = handoff_get_for_work(user=request.user, handoff_id=handoff_id)
    if not may_work:
        security_log.info("denied work on handoff %s to user %s", handoff_id, request.user.pk)
        return None
    return handoff


def _act(request: HttpRequest, handoff_id: int, action: str) -> HttpResponse:
    handoff = _workable(request, handoff_id)
    if handoff is None:
        return _respond(request, handoff_id, notice="Your role cannot work this team's handoffs.")
    user = request.user
    # Ownership is checked by the services under the row lock; leads may release or resolve
    # others' work (read only for those: a claim or reply does not ask).
    may_override = action in ("release", "resolve") and user_can_manage(
        user=user, team_id=handoff.team_id
    )
    body = request.POST.get("body", "") if action == "reply" else ""
    try:
        if action == "claim":
            services.handoff_claim(handoff_id=handoff_id, user=user, seen=handoff)
        elif action == "release":
            services.handoff_release(handoff_id=handoff_id, user=user, may_override=may_override)
        elif action == "reply":
            services.handoff_reply(
                handoff_id=handoff_id,
                user=user,
                body=body,
                # The composer respects the soft lock until the person confirms.
                over_lock=request.POST.get("over_lock") == "1",
            )
        elif action == "resolve":
            services.handoff_resolve(
                handoff_id=handoff_id,
                user=user,
                resolution=request.POST.get("resolution", ""),
                resume_automation=request.POST.get("resume_automation") == "on",
                may_override=may_override,
            )
    except ReplyLocked as exc:
        return _respond(request, handoff_id, draft=body, locked_by=exc.holder_name)
    except DomainError as exc:  # Conflict included: the notice says who holds it
        return _respond(request, handoff_id, notice=exc.detail, draft=body)
    return _respond(request, handoff_id)


@login_required
@require_POST
def claim(request: HttpRequest, handoff_id: int) -> HttpResponse:
    return _act(request, handoff_id, "claim")


@login_required
@require_POST
def release(request: HttpRequest, handoff_id: int) -> HttpResponse:
    return _act(request, handoff_id, "release")


@login_required
@require_POST
def reply(request: HttpRequest, handoff_id: int) -> HttpResponse:
    return _act(request, handoff_id, "reply")


@login_required
@require_POST
def resolve(request: HttpRequest, handoff_id: int) -> HttpResponse:
    return _act(request, handoff_id, "resolve")
