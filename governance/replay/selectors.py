"""Reads for replay: who may start and see runs, the draft a run replays, and the side-by-side
table a finished run shows (docs/replay.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from django.db.models import Q, QuerySet
from django.http import Http404

from governance.changes import ProposedChange
from governance.policies.choices import RuleKind, TouchAction
from governance.replay.models import ReplayRun
from handoffs.choices import Priority, SlaTarget, Trigger
from portal.errors import log_not_visible
from portal.models import Team
from portal.roles import EDIT_RULES, VIEW_RULES
from portal.selectors import teams_with_perm

# --- who may do what --------------------------------------------------------------------------


def _team_ids(user: Any, codename: str) -> set[int]:
    if getattr(user, "is_superuser", False) and user.is_active:
        return set(Team.objects.values_list("id", flat=True))
    return set(teams_with_perm(principal=user, codename=codename).values_list("id", flat=True))


def _all_teams(ids: set[int]) -> bool:
    every = set(Team.objects.values_list("id", flat=True))
    return bool(every) and every <= ids


@dataclass(frozen=True)
class Scope:
    """The scopes a person may replay over: their teams with EDIT_RULES, and organisation-wide
    (None) for superusers and ops of every team."""

    teams: list[Team]
    org_wide: bool

    def allows(self, team_id: int | None) -> bool:
        if team_id is None:
            return self.org_wide
        return any(team.pk == team_id for team in self.teams)

    @property
    def any(self) -> bool:
        return bool(self.teams) or self.org_wide


def start_scope(*, user: Any) -> Scope:
    ids = _team_ids(user, EDIT_RULES)
    teams = list(Team.objects.filter(id__in=ids).order_by("name"))
    return Scope(teams=teams, org_wide=_all_teams(ids))


def reads_rules(*, user: Any) -> bool:
    return bool(_team_ids(user, VIEW_RULES))


def runs_visible_to(*, user: Any) -> QuerySet[ReplayRun]:
    """Runs over the teams the person may read rules of (VIEW_RULES); organisation-wide runs
    for those who read every team's rules. Newest first."""
    ids = _team_ids(user, VIEW_RULES)
    visible = Q(team_id__in=ids)
    if _all_teams(ids):
        visible |= Q(team__isnull=True)
    return (
        ReplayRun.objects.filter(visible)
        .select_related("team", "created_by")
        .defer("result")
        .order_by("-created_at", "-id")
    )


def run_get_for(*, user: Any, run_id: int) -> ReplayRun:
    ids = _team_ids(user, VIEW_RULES)
    run = ReplayRun.objects.select_related("team", "created_by").filter(pk=run_id).first()
    if run is None or not (run.team_id in ids or (run.team_id is None and _all_teams(ids))):
        log_not_visible(user, f"replay run {run_id}")
        raise Http404("No such replay")
    return run


# --- drafts (governance.versions, imported lazily: replay works without it) -------------------


class DraftsUnavailable(LookupError):
    pass


class DraftSource(Protocol):
    """Where drafts come from: governance.versions (VersionsDrafts), or a test's own."""

    def get(self, pk: int) -> Any | None: ...

    def open_for(self, *, team_ids: list[int], org_wide: bool, limit: int) -> list[Any]: ...

    def changes(self, draft: Any) -> list[ProposedChange]: ...


class VersionsDrafts:
    """governance.versions' RuleDraft and draft_proposed_changes, imported when first used."""

    def _load(self) -> tuple[Any, Any]:
        try:
            from governance.versions.models import RuleDraft
            from governance.versions.selectors import draft_proposed_changes
        except ImportError as exc:
            raise DraftsUnavailable("Rule drafts are not available in this installation.") from exc
        return RuleDraft, draft_proposed_changes

    def get(self, pk: int) -> Any | None:
        rule_draft, _ = self._load()
        return rule_draft.objects.select_related("team").filter(pk=pk).first()

    def open_for(self, *, team_ids: list[int], org_wide: bool, limit: int) -> list[Any]:
        rule_draft, _ = self._load()
        visible = Q(team_id__in=team_ids)
        if org_wide:
            visible |= Q(team__isnull=True)
        query = rule_draft.objects.filter(visible, status="open").select_related("team")
        return list(query.order_by("-id")[:limit])

    def changes(self, draft: Any) -> list[ProposedChange]:
        _, proposed = self._load()
        return list(proposed(draft))


drafts: DraftSource = VersionsDrafts()


def draft_get_for(*, user: Any, draft_id: int) -> Any:
    """The draft if the person may replay it: a team's draft for ops of that team, an
    organisation-wide one for superusers and ops of every team. Otherwise Http404."""
    draft = drafts.get(draft_id)
    if draft is None or not start_scope(user=user).allows(draft.team_id):
        log_not_visible(user, f"rule draft {draft_id}")
        raise Http404("No such draft")
    return draft


def draft_by_id(draft_id: int) -> Any | None:
    return drafts.get(draft_id)


def draft_changes(*, draft: Any) -> list[ProposedChange]:
    return drafts.changes(draft)


def drafts_for(*, user: Any, limit: int = 20) -> list[Any]:
    """Open drafts the person may replay, newest first ([] when drafts are not installed)."""
    scope = start_scope(user=user)
    try:
        return drafts.open_for(
            team_ids=[t.pk for t in scope.teams], org_wide=scope.org_wide, limit=limit
        )
    except DraftsUnavailable:
        return []


# --- the side-by-side table -------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    label: str
    live: int
    draft: int
    strong: bool = False

    @property
    def change(self) -> int:
        return self.draft - self.live

    @property
    def change_label(self) -> str:
        change = self.change
        return f"+{change}" if change > 0 else (f"−{-change}" if change < 0 else "0")


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[Row]
    worse_when_more: bool = False  # colours a rise red and a fall green (breaches, blocks)
    note: str = ""


def comparison(*, run: ReplayRun) -> list[Section]:
    """The finished run's counts as sections of rows (metric, live, draft); every key either
    column has appears, so a rule the draft adds or removes shows as a row from or to 0."""
    live = (run.result or {}).get("live") or {}
    draft = (run.result or {}).get("draft") or {}
    names = dict(Team.objects.values_list("slug", "name"))

    def pair(*path: str) -> tuple[dict[str, int], dict[str, int]]:
        def dig(tree: dict[str, Any]) -> Any:
            for key in path:
                tree = (tree or {}).get(key) or {}
            return tree

        return dig(live), dig(draft)

    def grouped(path: tuple[str, ...], label: Any, order: list[str] | None = None) -> list[Row]:
        a, b = pair(*path)
        rank = {key: i for i, key in enumerate(order or [])}
        keys = sorted(set(a) | set(b), key=lambda k: (rank.get(k, 99), label(k)))
        return [Row(label(k), int(a.get(k, 0)), int(b.get(k, 0))) for k in keys]

    def total(*path: str) -> tuple[int, int]:
        def dig(tree: dict[str, Any]) -> int:
            for key in path:
                tree = (tree or {}).get(key) or 0
            return int(tree or 0)

        return dig(live), dig(draft)

    def team(slug: str) -> str:
        return names.get(slug, slug)

    def trigger_team(key: str) -> str:
        trigger, _, slug = key.partition("|")
        return f"{_label(Trigger, trigger)} · {team(slug)}"

    def team_target(key: str) -> str:
        slug, _, target = key.partition("|")
        return f"{team(slug)} · {_label(SlaTarget, target)}"

    def priority(key: str) -> str:
        return f"{_label(Priority, key)} priority"

    triggers = list(Trigger.values)
    priorities = list(reversed(Priority.values))
    sections = [
        Section(
            "Handoffs",
            [
                Row("All handoffs", *total("handoffs", "total"), strong=True),
                *grouped(("handoffs", "by_trigger"), lambda k: _label(Trigger, k), triggers),
                *grouped(("handoffs", "by_priority"), priority, priorities),
            ],
            note="Rule-raised handoffs re-evaluated; the rest (triage, journey steps, "
            "approvals, manual) as recorded.",
        ),
        Section("Handoffs by team", grouped(("handoffs", "by_team"), team)),
        Section(
            "Handoffs by trigger and team",
            grouped(("handoffs", "by_trigger_team"), trigger_team),
        ),
        Section(
            "Automated touches",
            [
                Row("Journey touches attempted", *total("touches", "attempts"), strong=True),
                Row("Sent at once", *total("touches", "sent")),
                Row("Deferred", *total("touches", "deferred")),
                Row("Suppressed", *total("touches", "suppressed")),
                Row("Blocked (banned phrase)", *total("touches", "blocked")),
                Row("Held for approval", *total("touches", "held")),
            ],
        ),
    ]
    by_rule = pair("touches", "by_rule")
    timing = (TouchAction.DEFERRED, TouchAction.SUPPRESSED)
    tone = (TouchAction.HELD, TouchAction.BLOCKED)
    for title, actions, worse in (
        ("Deferrals and suppressions by rule", timing, False),
        ("Held and blocked by tone rule", tone, True),
    ):
        keys = sorted(
            {k for k in (*by_rule[0], *by_rule[1]) if k.split("|", 1)[0] in actions},
            key=lambda k: (k.split("|")[2].lower(), k),
        )
        rows = [
            Row(_rule_label(k), int(by_rule[0].get(k, 0)), int(by_rule[1].get(k, 0))) for k in keys
        ]
        sections.append(Section(title, rows, worse_when_more=worse))
    sections += [
        Section(
            "SLA breaches",
            [
                Row("All breaches", *total("breaches", "total"), strong=True),
                *grouped(("breaches", "by_target"), lambda k: _label(SlaTarget, k)),
            ],
            worse_when_more=True,
            note="A handoff the draft raises that never existed had no reply: it counts as "
            "breached once its due time passed before the window ended.",
        ),
        Section("Breaches by team", grouped(("breaches", "by_team"), team), worse_when_more=True),
        Section(
            "Breaches by team and target",
            grouped(("breaches", "by_team_target"), team_target),
            worse_when_more=True,
        ),
    ]
    return sections


def headline(*, run: ReplayRun) -> list[Section]:
    """The four figures an ops user looks at first, each its own one-row section (so a rise
    in breaches is coloured as worse)."""
    live = (run.result or {}).get("live") or {}
    draft = (run.result or {}).get("draft") or {}

    def row(label: str, group: str, *keys: str) -> Row:
        return Row(
            label,
            sum(int((live.get(group) or {}).get(k) or 0) for k in keys),
            sum(int((draft.get(group) or {}).get(k) or 0) for k in keys),
        )

    return [
        Section("", [row("Handoffs", "handoffs", "total")]),
        Section("", [row("Deferred or suppressed", "touches", "deferred", "suppressed")]),
        Section("", [row("Held or blocked", "touches", "held", "blocked")], worse_when_more=True),
        Section("", [row("SLA breaches", "breaches", "total")], worse_when_more=True),
    ]


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _rule_label(key: str) -> str:
    action, kind, name = ([*key.split("|", 2), "", ""])[:3]
    return f"{name} ({_label(RuleKind, kind).lower()}) · {_label(TouchAction, action).lower()}"
