"""Reads of handoffs: every query a page, endpoint or consumer makes goes through here, already
narrowed to what the principal may see."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NoReturn
from urllib.parse import urlencode

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import Http404

from handoffs.choices import ACTIVE_STATUSES, Direction, HandoffStatus, Priority, Trigger
from handoffs.models import Handoff, HandoffEvent, Message
from portal.errors import log_not_visible
from portal.models import Event, EventLogState, Membership, Team
from portal.roles import VIEW_INBOX, WORK_HANDOFFS
from portal.selectors import team_rights, teams_visible_to

HANDOFF_RELATED = ("team", "contact", "contact__account", "assignee")


class FilterError(ValueError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid filters")
        self.errors = errors


@dataclass(frozen=True)
class HandoffFilters:
    statuses: tuple[str, ...] = ()
    team: str | None = None
    trigger: str | None = None
    priority: str | None = None
    assignee: str | None = None  # "me", "none" or a username
    contact_id: int | None = None
    breached: bool | None = None


def parse_filters(params: Any) -> HandoffFilters:
    """Turn query parameters into filters, naming every bad one."""
    errors: dict[str, list[str]] = {}
    statuses: list[str] = []
    for raw in params.getlist("status") if hasattr(params, "getlist") else []:
        for value in raw.split(","):
            value = value.strip()
            if value == "active":
                statuses.extend(ACTIVE_STATUSES)
            elif value in HandoffStatus.values:
                statuses.append(value)
            elif value:
                errors.setdefault("status", []).append(f"Unknown status {value!r}.")

    def choice(name: str, allowed: list[str]) -> str | None:
        value = params.get(name) or None
        if value is not None and value not in allowed:
            errors[name] = [f"Unknown {name} {value!r}; one of {', '.join(allowed)}."]
        return value

    contact_id = None
    if params.get("contact"):
        try:
            contact_id = int(params["contact"][:20])
        except ValueError:
            errors["contact"] = ["Expected a contact id (integer)."]
        else:
            if not 0 < contact_id < 2**63:
                errors["contact"] = ["Expected a contact id (a positive integer)."]
    breached = None
    if params.get("breached"):
        if params["breached"].lower() not in {"true", "false"}:
            errors["breached"] = ["Expected true or false."]
        breached = params["breached"].lower() == "true"
    filters = HandoffFilters(
        statuses=tuple(dict.fromkeys(statuses)),
        team=params.get("team") or None,
        trigger=choice("trigger", Trigger.values),
        priority=choice("priority", Priority.values),
        assignee=params.get("assignee") or None,
        contact_id=contact_id,
        breached=breached,
    )
    if errors:
        raise FilterError(errors)
    return filters


def handoffs_visible_to(*, principal: Any) -> QuerySet[Handoff]:
    return Handoff.objects.filter(team__in=teams_visible_to(principal=principal)).select_related(
        *HANDOFF_RELATED
    )


def handoff_list(*, principal: Any, filters: HandoffFilters) -> QuerySet[Handoff]:
    qs = handoffs_visible_to(principal=principal)
    if filters.statuses:
        qs = qs.filter(status__in=filters.statuses)
    if filters.team:
        qs = qs.filter(team__slug=filters.team)
    if filters.trigger:
        qs = qs.filter(trigger=filters.trigger)
    if filters.priority:
        qs = qs.filter(priority=filters.priority)
    if filters.assignee == "me":
        qs = qs.filter(assignee_id=principal.pk) if _is_user(principal) else qs.none()
    elif filters.assignee == "none":
        qs = qs.filter(assignee=None)
    elif filters.assignee:
        qs = qs.filter(assignee__username=filters.assignee)
    if filters.contact_id is not None:
        qs = qs.filter(contact_id=filters.contact_id)
    if filters.breached is not None:
        qs = qs.filter(breached=filters.breached)
    return qs.order_by("first_response_due_at", "id")


def _is_user(principal: Any) -> bool:
    return hasattr(principal, "get_full_name")


def handoff_get_for(*, principal: Any, handoff_id: int) -> Handoff:
    """The handoff if `principal` may see it; otherwise 404 — never a hint that it exists."""
    handoff = handoffs_visible_to(principal=principal).filter(id=handoff_id).first()
    if handoff is None:
        _not_visible(principal, handoff_id)
    return handoff


def handoff_get_for_work(*, user: Any, handoff_id: int) -> tuple[Handoff, bool]:
    """`handoff_get_for`, and whether `user` may also work it (claim, reply, resolve): one
    read of the caller's team rights and one of the handoff (two plain queries: guardian's
    nested permission subqueries cost more to build and plan than the read itself)."""
    rights = team_rights(user=user)
    # The owner comes along (a 409 names them); an action's answer reads the handoff afresh.
    handoff = next(iter(Handoff.objects.select_related("assignee").filter(id=handoff_id)), None)
    held = rights.get(handoff.team_id, frozenset()) if handoff is not None else frozenset()
    if handoff is None or VIEW_INBOX not in held:
        _not_visible(user, handoff_id)
    return handoff, WORK_HANDOFFS in held


def _not_visible(principal: Any, handoff_id: int) -> NoReturn:
    log_not_visible(principal, f"handoff {handoff_id}")
    raise Http404("No such handoff")


INBOX_VIEWS = ("all", "mine", "unassigned")


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows: a view (all / mine / unassigned), and optionally one team, one
    trigger and one priority. Read from the query string; anything unknown is ignored."""

    view: str = "all"
    team: str | None = None
    trigger: str | None = None
    priority: str | None = None

    @classmethod
    def from_query(
        cls, query: Mapping[str, str], team_slugs: set[str] | None = None
    ) -> InboxFilter:
        view = query.get("view", "all")
        team = query.get("team") or None
        trigger = query.get("trigger") or None
        priority = query.get("priority") or None
        return cls(
            view=view if view in INBOX_VIEWS else "all",
            team=team if team_slugs is None or team in team_slugs else None,
            trigger=trigger if trigger in Trigger.values else None,
            priority=priority if priority in Priority.values else None,
        )

    def narrow(self, qs: QuerySet[Handoff]) -> QuerySet[Handoff]:
        """Team, trigger and priority (not the view: the tab counts need every view)."""
        if self.team:
            qs = qs.filter(team__slug=self.team)
        if self.trigger:
            qs = qs.filter(trigger=self.trigger)
        if self.priority:
            qs = qs.filter(priority=self.priority)
        return qs

    def shows(self, handoff: Handoff, user: Any) -> bool:
        if self.team and handoff.team.slug != self.team:
            return False
        if (self.trigger and handoff.trigger != self.trigger) or (
            self.priority and handoff.priority != self.priority
        ):
            return False
        if self.view == "mine":
            return handoff.assignee_id == user.pk
        if self.view == "unassigned":
            return handoff.assignee_id is None
        return True

    @property
    def tab_queries(self) -> dict[str, str]:
        return {view: self.query(view=view) for view in INBOX_VIEWS}

    @property
    def cleared(self) -> str:
        return self.query(trigger=None, priority=None)

    @property
    def narrowed(self) -> bool:
        return bool(self.trigger or self.priority)

    def query(self, **override: str | None) -> str:
        """The query string for links that keep this filter ("?view=mine&trigger=sentiment")."""
        values = {
            "view": self.view,
            "team": self.team,
            "trigger": self.trigger,
            "priority": self.priority,
            **override,
        }
        return "?" + urlencode({k: v for k, v in values.items() if v})


ALL_OPEN = InboxFilter()


def _inbox_scope(
    *, user: Any, only: InboxFilter, teams: Sequence[Team] | None
) -> QuerySet[Handoff]:
    """Active handoffs in the user's teams under the filter's team, trigger and priority. With
    `teams` (the user's visible teams, already read by the page) the team condition is a list
    of ids, so PostgreSQL estimates it from the statistics and walks the partial index
    `handoff_active_team_sla`; the permission subquery looks to the planner like most teams and
    made it scan every handoff at scale (docs/performance-plans.md)."""
    if teams is None:
        qs = only.narrow(handoffs_visible_to(principal=user).filter(status__in=ACTIVE_STATUSES))
        return qs
    ids = [t.pk for t in teams if not only.team or t.slug == only.team]
    qs = Handoff.objects.filter(team_id__in=ids, status__in=ACTIVE_STATUSES)
    return replace(only, team=None).narrow(qs)  # the team is in `ids` already


def inbox_queryset(
    *, user: Any, only: InboxFilter = ALL_OPEN, teams: Sequence[Team] | None = None
) -> QuerySet[Handoff]:
    """The live inbox: active handoffs in the user's teams, narrowed by `only` (view, team,
    trigger, priority), offered-to-my-role first, then by the running SLA clock (whichever
    target runs out first; a clock paused while waiting on the contact sorts last)."""
    qs = _inbox_scope(user=user, only=only, teams=teams)
    if teams is not None:
        qs = qs.select_related(*HANDOFF_RELATED)
    if only.view == "mine":
        qs = qs.filter(assignee=user)
    elif only.view == "unassigned":
        qs = qs.filter(assignee=None)
    if teams is None:
        offered = Exists(
            Membership.objects.filter(
                user=user, team=OuterRef("team"), role=OuterRef("offered_to_role")
            )
        )
    else:
        # The user's (team, role) pairs as plain column comparisons: a correlated subquery per
        # row made the planner cost the page past PostgreSQL's JIT threshold at scale.
        pairs = Membership.objects.filter(user_id=user.pk).values_list("team_id", "role")
        offered = Q(pk__in=[])
        for team_id, role in pairs:
            offered |= Q(team_id=team_id, offered_to_role=role)
    qs = qs.annotate(
        offered_to_me=Case(
            When(offered, assignee=None, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
    return qs.order_by("-offered_to_me", F("sla_due_at").asc(nulls_last=True), "id")


class InboxRows:
    """The inbox as Paginator pages through it, in two steps per page: the page's ids in inbox
    order from handoff columns alone (an index-only scan of the covering partial index
    `handoff_active_team_sla`), then those rows with their team, contact and assignee. Ordering
    the joined rows made PostgreSQL join every visible handoff before keeping 25. The count is
    the tab count the page already has, so paging costs no count query of its own."""

    def __init__(self, rows: QuerySet[Handoff], count: int) -> None:
        self._rows = rows
        self._count = count

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, window: slice) -> list[Handoff]:
        ids = list(self._rows.values_list("id", flat=True)[window])
        by_id = {h.pk: h for h in self._rows.filter(id__in=ids).order_by()}
        return [by_id[i] for i in ids if i in by_id]


@dataclass(frozen=True)
class InboxTally:
    """Active handoffs under one filter, counted per owner (None: unassigned): every reader's
    tab counts from one query — the live stream shares it between the reps of a team."""

    by_assignee: dict[int | None, int]

    def counts_for(self, user: Any) -> dict[str, int]:
        return {
            "all": sum(self.by_assignee.values()),
            "mine": self.by_assignee.get(user.pk, 0) if user.pk is not None else 0,
            "unassigned": self.by_assignee.get(None, 0),
        }


def inbox_tally(
    *, only: InboxFilter = ALL_OPEN, teams: Sequence[Team] | None, user: Any = None
) -> InboxTally:
    """One grouped query: an index-only scan of `handoff_active_team_sla` (it carries the
    assignee, trigger and priority) when `teams` is given; without it, `user`'s teams."""
    scope = _inbox_scope(user=user, only=only, teams=teams)
    rows = scope.order_by().values_list("assignee_id").annotate(n=Count("id"))
    return InboxTally(by_assignee=dict(rows))


def inbox_counts(
    *, user: Any, only: InboxFilter = ALL_OPEN, teams: Sequence[Team] | None = None
) -> dict[str, int]:
    """The tab counts under the filter's team, trigger and priority."""
    return inbox_tally(only=only, teams=teams, user=user).counts_for(user)


def inbox_row(*, user: Any, handoff_id: int) -> Handoff | None:
    return (
        inbox_queryset(user=user).filter(id=handoff_id).first()
        or handoffs_visible_to(principal=user).filter(id=handoff_id).first()
    )


THREAD_PAGE = 30


@dataclass(frozen=True)
class Thread:
    """A window of the conversation, oldest first. `older` is the id of its oldest message when
    there are older ones (the "Load older messages" cursor), else None."""

    messages: list[Message]
    older: int | None


def _conversation(*, handoff: Handoff, principal: Any) -> QuerySet[Message]:
    """The contact's conversation: this handoff's part and everything not tied to another
    team's handoff (which stays that team's business)."""
    teams = teams_visible_to(principal=principal)
    return Message.objects.filter(conversation__contact_id=handoff.contact_id).filter(
        Q(handoff__isnull=True) | Q(handoff__team__in=teams)
    )


def handoff_thread(
    *, handoff: Handoff, principal: Any, before: int | None = None, limit: int = THREAD_PAGE
) -> Thread:
    """The newest `limit` messages (older than message `before` when given), so a contact with
    thousands of messages costs one page: newest first by (created_at, id) on `message_thread`,
    one row more than shown to know whether older ones exist. An unknown or invisible `before`
    gives an empty window."""
    qs = _conversation(handoff=handoff, principal=principal)
    if before is not None:
        anchor = qs.filter(id=before).values_list("created_at", flat=True).first()
        if anchor is None:
            return Thread(messages=[], older=None)
        qs = qs.filter(Q(created_at__lt=anchor) | Q(created_at=anchor, id__lt=before))
    rows = list(qs.select_related("author", "outbox").order_by("-created_at", "-id")[: limit + 1])
    shown = rows[:limit][::-1]
    return Thread(messages=shown, older=shown[0].id if len(rows) > limit else None)


def handoff_messages(*, handoff: Handoff, principal: Any) -> list[Message]:
    """The whole conversation, oldest first (exports and tests; pages use `handoff_thread`)."""
    qs = _conversation(handoff=handoff, principal=principal)
    return list(qs.select_related("author", "outbox").order_by("created_at", "id"))


def handoff_signed_by(*, handoff: Handoff, user: Any) -> bool:
    """Whether `user` already replied on this handoff (their first reply carries their
    signature; handoffs/services/replies.py asks the same)."""
    mine = Message.objects.filter(handoff=handoff, direction=Direction.OUT, author_id=user.pk)
    return mine.exists()


def handoff_history(*, handoff: Handoff) -> list[HandoffEvent]:
    return list(handoff.events.select_related("actor").order_by("at", "id"))


def event_log_head() -> int:
    """The newest seq ever written, even when pruning has emptied the log."""
    newest = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return max(newest, event_log_pruned_through())


def event_log_pruned_through() -> int:
    return EventLogState.objects.filter(pk=1).values_list("pruned_through", flat=True).first() or 0


def events_after(*, team_ids: set[int], after_seq: int, limit: int = 500) -> list[Event]:
    if not team_ids:
        return []
    return list(Event.objects.filter(id__gt=after_seq, team_id__in=team_ids).order_by("id")[:limit])
