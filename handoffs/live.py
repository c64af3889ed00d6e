"""What the browser's live stream sends: htmx out-of-band fragments for the page a person has
open, rendered with the same partials as the page itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string

from handoffs.models import Handoff
from handoffs.presence import presence_for
from handoffs.selectors import (
    HANDOFF_RELATED,
    INBOX_VIEWS,
    InboxFilter,
    handoffs_visible_to,
    inbox_counts,
    inbox_queryset,
)
from handoffs.ui import handoff_page_context, row_context
from portal.models import Team
from portal.roles import WORK_HANDOFFS
from portal.selectors import teams_visible_to, teams_with_perm


@dataclass(frozen=True)
class LiveView:
    page: str  # "inbox" or "handoff"
    inbox: InboxFilter = field(default_factory=InboxFilter)
    handoff_id: int | None = None

    @classmethod
    def from_query(cls, query: dict[str, str]) -> LiveView:
        page = query.get("page", "inbox")
        if page == "inbox":
            view = query.get("view", "all")
            if view not in INBOX_VIEWS:
                raise ValueError(f"unknown inbox view {view!r}")
            return cls(page="inbox", inbox=InboxFilter.from_query(query))
        if page == "handoff":
            return cls(page="handoff", handoff_id=int(query.get("handoff", "")))
        raise ValueError(f"unknown page {page!r}")

    def shows(self, handoff: Handoff, user: Any) -> bool:
        return self.inbox.shows(handoff, user)


@dataclass(frozen=True)
class Sight:
    """The teams a person may see and those they may work, read once when their socket checks
    their rights (not on every push): the inbox fragments are then plain id filters, with no
    permission subqueries to build and run per push."""

    teams: tuple[Team, ...]
    work_team_ids: frozenset[int]

    @property
    def team_ids(self) -> set[int]:
        return {team.pk for team in self.teams}


def sight_for(principal: Any) -> Sight:
    return Sight(
        teams=tuple(teams_visible_to(principal=principal)),
        work_team_ids=frozenset(
            teams_with_perm(principal=principal, codename=WORK_HANDOFFS).values_list(
                "id", flat=True
            )
        ),
    )


def render_changes(
    *, user: Any, view: LiveView, changes: dict[int, str], seq: int, sight: Sight | None = None
) -> str:
    """Fragments for the changed handoffs, plus the seq they bring the page up to (the page
    reconnects from there, so a reconnect replays nothing it already has)."""
    body = (
        _handoff_page(user, view, changes)
        if view.page == "handoff"
        else _inbox(user, view, changes, sight or sight_for(user))
    )
    if not body:
        return ""
    return body + f'<span id="live-seq" data-seq="{seq}" hidden hx-swap-oob="true"></span>'


def _inbox(user: Any, view: LiveView, changes: dict[int, str], sight: Sight) -> str:
    teams = sight.teams
    active = {h.pk: h for h in inbox_queryset(user=user, teams=teams).filter(id__in=list(changes))}
    missing = [hid for hid in changes if hid not in active]
    closed = (
        {
            h.pk: h
            for h in Handoff.objects.filter(
                id__in=missing, team_id__in=sight.team_ids
            ).select_related(*HANDOFF_RELATED)
        }
        if missing
        else {}
    )
    ctx = row_context(user=user, work_team_ids=sight.work_team_ids)
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
        only = view.inbox
        counts = inbox_counts(user=user, only=only, teams=teams)
        parts.append(
            render_to_string(
                "handoffs/inbox.html#tabs",
                {"counts": counts, "view": only.view, "filter": only, "oob": True},
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


def render_presence(*, user: Any, handoff_id: int) -> str | None:
    """The "Viewing:" chips and the composer's "… is replying" line for one person; None when
    they may not see the handoff (the consumer then leaves its group)."""
    presence = presence_for(user=user, handoff_id=handoff_id)
    if presence is None:
        return None
    ctx = {"presence": presence, "oob": True}
    return render_to_string("handoffs/handoff.html#presence", ctx) + render_to_string(
        "handoffs/handoff.html#reply-lock", ctx
    )
