"""What the browser's live stream sends: htmx out-of-band fragments for the page a person has
open, rendered with the same partials as the page itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from handoffs.models import Handoff
from handoffs.selectors import INBOX_VIEWS, handoffs_visible_to, inbox_counts, inbox_queryset
from handoffs.ui import handoff_page_context, row_context


@dataclass(frozen=True)
class LiveView:
    page: str  # "inbox" or "handoff"
    filter: str = "all"
    team: str | None = None
    handoff_id: int | None = None

    @classmethod
    def from_query(cls, query: dict[str, str]) -> LiveView:
        page = query.get("page", "inbox")
        if page == "inbox":
            view = query.get("view", "all")
            if view not in INBOX_VIEWS:
                raise ValueError(f"unknown inbox view {view!r}")
            return cls(page="inbox", filter=view, team=query.get("team") or None)
        if page == "handoff":
            return cls(page="handoff", handoff_id=int(query.get("handoff", "")))
        raise ValueError(f"unknown page {page!r}")

    def shows(self, handoff: Handoff, user: Any) -> bool:
        if self.team and handoff.team.slug != self.team:
            return False
        if self.filter == "mine":
            return handoff.assignee_id == user.pk
        if self.filter == "unassigned":
            return handoff.assignee_id is None
        return True


def render_changes(*, user: Any, view: LiveView, changes: dict[int, str], seq: int) -> str:
    """Fragments for the changed handoffs, plus the seq they bring the page up to (the page
    reconnects from there, so a reconnect replays nothing it already has)."""
    body = (
        _handoff_page(user, view, changes)
        if view.page == "handoff"
        else _inbox(user, view, changes)
    )
    if not body:
        return ""
    return body + f'<span id="live-seq" data-seq="{seq}" hidden hx-swap-oob="true"></span>'


def _inbox(user: Any, view: LiveView, changes: dict[int, str]) -> str:
    active = {
        h.pk: h
        for h in inbox_queryset(user=user, view="all", team_slug=None).filter(id__in=list(changes))
    }
    missing = [hid for hid in changes if hid not in active]
    closed = (
        {h.pk: h for h in handoffs_visible_to(principal=user).filter(id__in=missing)}
        if missing
        else {}
    )
    ctx = row_context(user=user)
    parts: list[str] = []
    for handoff_id, kind in changes.items():
        handoff = active.get(handoff_id) or closed.get(handoff_id)
        if handoff is None:
            continue
        fresh = kind == "created" and view.shows(handoff, user) and handoff.is_active
        row = render_to_string(
            "handoffs/inbox.html#row",
            {**ctx, "handoff": handoff, "oob": not fresh, "fresh": fresh},
        )
        if fresh:
            parts.append(f'<div id="inbox-rows" hx-swap-oob="afterbegin">{row}</div>')
            if getattr(handoff, "offered_to_me", False):
                parts.append(render_to_string("handoffs/inbox.html#toast", {"handoff": handoff}))
        else:
            parts.append(row)
    if parts:
        counts = inbox_counts(user=user, team_slug=view.team)
        parts.append(
            render_to_string(
                "handoffs/inbox.html#tabs",
                {"counts": counts, "view": view.filter, "team": view.team, "oob": True},
            )
        )
    return "".join(parts)


def _handoff_page(user: Any, view: LiveView, changes: dict[int, str]) -> str:
    if view.handoff_id not in changes:
        return ""
    handoff = handoffs_visible_to(principal=user).filter(id=view.handoff_id).first()
    if handoff is None:
        return ""
    ctx = {**handoff_page_context(user=user, handoff=handoff), "oob": True}
    return "".join(
        render_to_string(f"handoffs/handoff.html#{part}", ctx)
        for part in ("panel", "conversation", "history")
    )
