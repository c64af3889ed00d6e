"""What the browser's live stream sends: htmx out-of-band fragments for the page a person has
open, rendered with the same partials as the page itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.template.loader import render_to_string

from handoffs.models import Handoff
from handoffs.presence import presence_for
from handoffs.selectors import (
    HANDOFF_RELATED,
    INBOX_VIEWS,
    InboxFilter,
    InboxTally,
    events_after,
    handoffs_visible_to,
    inbox_tally,
)
from handoffs.ui import handoff_page_context, row_context
from portal.models import ApiKey, Membership, Team
from portal.roles import WORK_HANDOFFS
from portal.selectors import teams_visible_to, teams_with_perm

CATCH_UP_PAGE = 500  # events per read of the log


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
    """What a reader may see and do, read once when their socket checks their rights (not on
    every push): the teams they see, those they may work, and their (team, role) pairs, which
    say what is "offered to you"."""

    teams: tuple[Team, ...]
    work_team_ids: frozenset[int] = frozenset()
    roles: frozenset[tuple[int, str]] = frozenset()

    @property
    def team_ids(self) -> frozenset[int]:
        return frozenset(team.pk for team in self.teams)

    def offered(self, handoff: Handoff) -> bool:
        """As inbox_queryset's `offered_to_me`: unowned and offered to a role they hold there."""
        return handoff.assignee_id is None and (handoff.team_id, handoff.offered_to_role) in (
            self.roles
        )


def sight_for(principal: Any) -> Sight:
    is_user = not isinstance(principal, ApiKey)
    return Sight(
        teams=tuple(teams_visible_to(principal=principal)),
        work_team_ids=frozenset(
            teams_with_perm(principal=principal, codename=WORK_HANDOFFS).values_list(
                "id", flat=True
            )
        ),
        roles=frozenset(
            Membership.objects.filter(user_id=principal.pk).values_list("team_id", "role")
            if is_user
            else ()
        ),
    )


class Frame:
    """One read of the log, shared by every socket of a process that needs it at once: the
    events of a set of teams past one seq, the handoffs they touch, the tab counts under each
    filter, and each fragment as each kind of reader sees it — so a push to 25 reps of a team
    costs the queries and renders of a few, not of 25. Readers differ only in what the row and
    tabs show them (their rights are applied by the team set, read per reader)."""

    def __init__(self, *, team_ids: frozenset[int], events: list[Any], seq: int) -> None:
        self.team_ids = team_ids
        self.events = events
        self.seq = seq  # what the log was read through
        self.changes: dict[int, str] = {}
        for event in events:
            created = event.type == "handoff.created" or self.changes.get(event.handoff_id) == (
                "created"
            )
            self.changes[event.handoff_id] = "created" if created else "updated"
        self._handoffs: dict[int, Handoff] | None = None
        self._tallies: dict[InboxFilter, InboxTally] = {}
        self._fragments: dict[tuple[Any, ...], str] = {}

    @classmethod
    def of(cls, changes: dict[int, str], *, team_ids: frozenset[int], seq: int) -> Frame:
        """Given changes, not read from the log (re-rendering one handoff)."""
        frame = cls(team_ids=team_ids, events=[], seq=seq)
        frame.changes = dict(changes)
        return frame

    @classmethod
    def read(cls, *, team_ids: frozenset[int], after_seq: int) -> Frame:
        """Every event of these teams past `after_seq`, a page at a time."""
        events: list[Any] = []
        seq = after_seq
        while True:
            page = events_after(team_ids=set(team_ids), after_seq=seq, limit=CATCH_UP_PAGE)
            events.extend(page)
            if page:
                seq = page[-1].id
            if len(page) < CATCH_UP_PAGE:
                return cls(team_ids=team_ids, events=events, seq=seq)

    def handoffs(self) -> dict[int, Handoff]:
        if self._handoffs is None:
            rows = Handoff.objects.filter(id__in=list(self.changes), team_id__in=self.team_ids)
            self._handoffs = {h.pk: h for h in rows.select_related(*HANDOFF_RELATED)}
        return self._handoffs

    def tally(self, only: InboxFilter, teams: tuple[Team, ...]) -> InboxTally:
        if only not in self._tallies:
            self._tallies[only] = inbox_tally(only=only, teams=teams)
        return self._tallies[only]

    def _fragment(self, key: tuple[Any, ...], render: Any) -> str:
        if key not in self._fragments:
            self._fragments[key] = render()
        return self._fragments[key]

    def inbox(self, *, user: Any, sight: Sight, view: LiveView) -> str:
        """The inbox fragments for one reader: each changed row (prepended when it is new and
        in their view), a toast when it is offered to them, and the tab counts."""
        ctx = row_context(user=user, work_team_ids=sight.work_team_ids)
        parts: list[str] = []
        for handoff_id, kind in self.changes.items():
            handoff = self.handoffs().get(handoff_id)
            if handoff is None:
                continue
            fresh = kind == "created" and view.shows(handoff, user) and handoff.is_active
            offered = sight.offered(handoff)
            mine = handoff.assignee_id == user.pk
            may_work = handoff.team_id in sight.work_team_ids

            def row(
                handoff: Handoff = handoff, offered: bool = offered, fresh: bool = fresh
            ) -> str:
                handoff.offered_to_me = offered  # type: ignore[attr-defined]
                return render_to_string(
                    "handoffs/inbox.html#row",
                    {**ctx, "handoff": handoff, "oob": not fresh, "fresh": fresh},
                )

            html = self._fragment(("row", handoff_id, offered, mine, may_work, fresh), row)
            if fresh:
                parts.append(f'<div id="inbox-rows" hx-swap-oob="afterbegin">{html}</div>')
                if offered:
                    toast = partial(
                        render_to_string, "handoffs/inbox.html#toast", {"handoff": handoff}
                    )
                    parts.append(self._fragment(("toast", handoff_id), toast))
            else:
                parts.append(html)
        if parts:
            only = view.inbox
            counts = self.tally(only, sight.teams).counts_for(user)
            tabs = partial(
                render_to_string,
                "handoffs/inbox.html#tabs",
                {"counts": counts, "view": only.view, "filter": only, "oob": True},
            )
            parts.append(self._fragment(("tabs", only, tuple(sorted(counts.items()))), tabs))
        return "".join(parts)

    def render(self, *, user: Any, sight: Sight, view: LiveView) -> str:
        """What one reader's page gets, plus the seq it brings the page up to (the page
        reconnects from there, so a reconnect replays nothing it already has)."""
        body = (
            _handoff_page(user, view, self.changes)
            if view.page == "handoff"
            else self.inbox(user=user, sight=sight, view=view)
        )
        if not body:
            return ""
        return body + f'<span id="live-seq" data-seq="{self.seq}" hidden hx-swap-oob="true"></span>'


def render_changes(
    *, user: Any, view: LiveView, changes: dict[int, str], seq: int, sight: Sight | None = None
) -> str:
    """The fragments for given changes to one reader, on their own (the batched stream uses
    Frame directly)."""
    sight = sight or sight_for(user)
    frame = Frame.of(changes, team_ids=sight.team_ids, seq=seq)
    return frame.render(user=user, sight=sight, view=view)


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
