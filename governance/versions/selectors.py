"""Reads for the audit and drafts, and who may see them: people with `view_team_rules` read
their teams' entries and drafts plus the organisation-wide ones; anything else answers 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from governance.changes import ProposedChange
from governance.versions.choices import DraftStatus
from governance.versions.models import DraftChange, RuleChange, RuleDraft, RuleRevision
from governance.versions.registry import governed
from governance.versions.services import can_edit_team, stale_problems
from governance.versions.snapshot import diff, live_snapshot, merged, typed
from portal.errors import log_not_visible
from portal.models import Team
from portal.roles import EDIT_RULES, VIEW_RULES
from portal.selectors import teams_with_perm


def _team_ids(user: Any, codename: str) -> set[int] | None:
    """Teams on which `user` holds `codename`; None: every team (a superuser). Read once per
    request: kept on the request's user object."""
    if getattr(user, "is_superuser", False):
        return None
    cache = user.__dict__.setdefault("_rule_team_ids", {})
    if codename not in cache:
        teams = teams_with_perm(principal=user, codename=codename)
        cache[codename] = set(teams.values_list("id", flat=True))
    return cache[codename]


def readable_team_ids(*, user: Any) -> set[int] | None:
    """Teams whose rules `user` reads; None: every team (a superuser)."""
    return _team_ids(user, VIEW_RULES)


def may_read_rules(*, user: Any) -> bool:
    readable = readable_team_ids(user=user)
    return readable is None or bool(readable)


def editable_team_ids(*, user: Any) -> set[int] | None:
    return _team_ids(user, EDIT_RULES)


def _visible(qs: QuerySet[Any], readable: set[int] | None) -> QuerySet[Any]:
    """Entries and drafts of the teams read, and the organisation-wide ones, for anyone who
    reads some team's rules; nothing for anyone else (a rep sees no organisation-wide entry)."""
    if readable is None:
        return qs
    if not readable:
        return qs.none()
    return qs.filter(Q(team__isnull=True) | Q(team__in=readable))


def filter_teams(*, user: Any) -> QuerySet[Team]:
    readable = readable_team_ids(user=user)
    teams = Team.objects.order_by("name")
    return teams if readable is None else teams.filter(id__in=readable)


def kind_choices() -> list[tuple[str, str]]:
    return sorted(((label, spec.kind) for label, spec in governed().items()), key=lambda c: c[1])


@dataclass(frozen=True)
class AuditFilters:
    team: str = ""  # a team id, "org" (organisation-wide) or "" (all)
    kind: str = ""  # a governed model's label, e.g. journeys.handoffrule
    object_id: int | None = None
    person: int | None = None
    since: date | None = None
    until: date | None = None


def audit_entries(*, user: Any, filters: AuditFilters) -> QuerySet[RuleRevision]:
    """Entries newest first, with their changes, people and teams in three queries."""
    qs = _visible(RuleRevision.objects.all(), readable_team_ids(user=user))
    if filters.team == "org":
        qs = qs.filter(team__isnull=True)
    elif filters.team:
        qs = qs.filter(team_id=int(filters.team))
    if filters.kind:
        app_label, model = filters.kind.split(".")
        content_type = ContentType.objects.get_by_natural_key(app_label, model)
        touched = RuleChange.objects.filter(content_type=content_type)
        if filters.object_id is not None:
            touched = touched.filter(object_id=filters.object_id)
        qs = qs.filter(id__in=touched.values("entry_id"))
    if filters.person is not None:
        qs = qs.filter(user_id=filters.person)
    zone = timezone.get_current_timezone()
    if filters.since:
        qs = qs.filter(created_at__gte=datetime.combine(filters.since, time.min, zone))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time.min, zone)
        qs = qs.filter(created_at__lt=end)
    changes = RuleChange.objects.select_related("content_type").order_by("id")
    return (
        qs.select_related("user", "team", "rolled_back_by__user", "rollback_of", "draft__author")
        .prefetch_related(Prefetch("changes", queryset=changes))
        .order_by("-id")
    )


def audit_people(*, user: Any) -> QuerySet[Any]:
    """People who made an entry this user can read (the person filter)."""
    entries = _visible(RuleRevision.objects.all(), readable_team_ids(user=user))
    return (
        get_user_model()
        .objects.filter(id__in=entries.values("user_id"))
        .order_by("first_name", "last_name", "username")
    )


def audit_entry_get_for(*, user: Any, entry_id: int) -> RuleRevision:
    entry = audit_entries(user=user, filters=AuditFilters()).filter(pk=entry_id).first()
    if entry is None:
        log_not_visible(user, f"rule audit entry {entry_id}")
        raise Http404("No such audit entry.")
    return entry


def drafts_for(*, user: Any, open_only: bool = False) -> QuerySet[RuleDraft]:
    qs = _visible(RuleDraft.objects.all(), readable_team_ids(user=user))
    if open_only:
        qs = qs.filter(status=DraftStatus.OPEN)
    return qs.select_related("team", "author", "closed_by", "entry").order_by("-id")


def draft_get_for(*, user: Any, draft_id: int) -> RuleDraft:
    draft = drafts_for(user=user).filter(pk=draft_id).first()
    if draft is None:
        log_not_visible(user, f"rule draft {draft_id}")
        raise Http404("No such draft.")
    return draft


def open_drafts_to_add_to(*, user: Any, team_id: int | None) -> list[RuleDraft]:
    """The open drafts a change to a row of `team_id` may join (the admin's draft picker)."""
    if not can_edit_team(user=user, team_id=team_id):
        return []
    return list(
        RuleDraft.objects.filter(team_id=team_id, status=DraftStatus.OPEN)
        .select_related("author", "team")
        .order_by("-id")[:20]
    )


def open_drafts_for_new(*, user: Any) -> list[RuleDraft]:
    """The open drafts a new row may join: any of the teams the user edits."""
    editable = editable_team_ids(user=user)
    qs = RuleDraft.objects.filter(status=DraftStatus.OPEN).select_related("author", "team")
    if editable is not None:
        qs = qs.filter(team_id__in=editable)
    return list(qs.order_by("-id")[:20])


@dataclass
class DraftChangeView:
    change: DraftChange
    kind: str
    verb: str
    rows: list[dict[str, str]]
    problems: list[str]


def draft_changes(draft: RuleDraft) -> list[DraftChangeView]:
    """Each change as a diff against the live object now, and why it could not publish."""
    out = []
    specs = governed()
    for change in draft.changes.select_related("content_type"):
        model = change.content_type.model_class()
        live = live_snapshot(model, change.object_id)
        if change.deletes:
            rows, verb = diff(model, live, None) if live else [], "Delete"
        else:
            rows = diff(model, live, merged(live, change.values, change.related))
            verb = "Change" if change.object_id else "Add"
        problems = stale_problems(change) if draft.status == DraftStatus.OPEN else []
        kind = specs[model._meta.label_lower].kind
        out.append(DraftChangeView(change, kind, verb, rows, problems))
    return out


def draft_proposed_changes(draft: RuleDraft) -> list[ProposedChange]:
    """The draft as the replay engine reads it (governance/changes.py): typed values by attname
    over the live row's, children as values, deletes flagged."""
    out = []
    for change in draft.changes.select_related("content_type").order_by("id"):
        model = change.content_type.model_class()
        spec = governed()[model._meta.label_lower]
        if change.deletes:
            out.append(ProposedChange(model=model, pk=change.object_id, values={}, delete=True))
            continue
        state = merged(live_snapshot(model, change.object_id), change.values, change.related)
        related = {
            name: [typed(child, values, model) for values in state["related"][name]]
            for name, child in spec.children.items()
            if name in change.related
        }
        out.append(
            ProposedChange(
                model=model,
                pk=change.object_id,
                values=typed(model, state["values"]),
                related=related,
            )
        )
    return out
