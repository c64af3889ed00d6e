"""Who may see which team. Every visibility check in Baton goes through here."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from portal.models import ApiKey, Availability, Membership, Team
from portal.roles import INBOX_ROLES, MANAGE_HANDOFFS, VIEW_INBOX, WORK_HANDOFFS


def teams_with_perm(*, principal: Any, codename: str) -> QuerySet[Team]:
    """Teams on which `principal` holds `codename`, as a lazy queryset (usable as a subquery)."""
    if isinstance(principal, ApiKey):
        if not principal.is_active or not principal.can_read_handoffs or codename != VIEW_INBOX:
            return Team.objects.none()
        limited = principal.teams.all()
        return (
            Team.objects.filter(id__in=limited.values("id"))
            if limited.exists()
            else (Team.objects.all())
        )
    if not getattr(principal, "is_authenticated", False) or not principal.is_active:
        return Team.objects.none()
    return get_objects_for_user(
        principal,
        f"portal.{codename}",
        klass=Team,
        accept_global_perms=False,
        with_superuser=False,
    )


# One flat statement: the ORM's union of two joined querysets cost ~1 ms of Python to compile
# on every call, three times the query itself. portal/tests/test_team_rights.py holds the table
# names to the models'.
TEAM_RIGHTS_SQL = """
    SELECT d.content_object_id, p.codename FROM portal_teamuserobjectpermission d
      JOIN auth_permission p ON p.id = d.permission_id
     WHERE d.user_id = %(user)s
    UNION ALL
    SELECT g.content_object_id, p.codename FROM portal_teamgroupobjectpermission g
      JOIN auth_user_groups m ON m.group_id = g.group_id
      JOIN auth_permission p ON p.id = g.permission_id
     WHERE m.user_id = %(user)s
"""


def team_rights(*, user: Any) -> dict[int, frozenset[str]]:
    """Every team on which `user` holds a permission, with the codenames held there: the same
    answer as `teams_with_perm` for each codename (directly or through a group), read in one
    flat query. For checks on one known team — an action on a handoff — where building
    guardian's nested subqueries into the query cost more than the query (~6 ms a claim)."""
    if isinstance(user, ApiKey) or not getattr(user, "is_authenticated", False):
        return {}  # a key holds no team rights: teams_with_perm scopes what it reads
    if not user.is_active:
        return {}
    held: dict[int, set[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(TEAM_RIGHTS_SQL, {"user": user.pk})
        for team_id, codename in cursor.fetchall():
            held.setdefault(team_id, set()).add(codename)
    return {team_id: frozenset(codenames) for team_id, codenames in held.items()}


def teams_visible_to(*, principal: Any) -> QuerySet[Team]:
    return teams_with_perm(principal=principal, codename=VIEW_INBOX)


def team_ids_visible_to(*, principal: Any) -> set[int]:
    return set(teams_visible_to(principal=principal).values_list("id", flat=True))


def principal_refresh(principal: Any) -> Any | None:
    """The same caller re-read from the database, or None once revoked or deactivated: open
    sockets re-check this before every push."""
    if isinstance(principal, ApiKey):
        return ApiKey.objects.filter(pk=principal.pk, revoked_at=None).first()
    if not getattr(principal, "is_authenticated", False):
        return None
    return get_user_model().objects.filter(pk=principal.pk, is_active=True).first()


def user_can(*, user: Any, codename: str, team_id: int) -> bool:
    return codename in team_rights(user=user).get(team_id, ())


def user_can_work(*, user: Any, team_id: int) -> bool:
    return user_can(user=user, codename=WORK_HANDOFFS, team_id=team_id)


def user_can_manage(*, user: Any, team_id: int) -> bool:
    return user_can(user=user, codename=MANAGE_HANDOFFS, team_id=team_id)


def user_roles(*, user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(Membership.objects.filter(user=user).values_list("role", flat=True))


def user_home_url(*, user: Any) -> str:
    """Reps, CSMs, leads and directors work the inbox; ops live in admin; leaders on the
    governance dashboard."""
    roles = user_roles(user=user)
    if roles & INBOX_ROLES:
        return "/inbox/"
    if "ops" in roles or (getattr(user, "is_staff", False) and not roles):
        return "/admin/"
    if "leader" in roles:
        return "/governance/"
    return "/inbox/"


def availability_of(*, user: Any) -> Availability:
    """The person's availability with its periods loaded; an unsaved default (offline, no hours)
    for someone who never set one. Reads only: the row is created by the first change."""
    found = Availability.objects.filter(user=user).prefetch_related("periods").first()
    return found if found is not None else Availability(user=user)


def teams_managed_by(*, user: Any) -> QuerySet[Team]:
    """Teams whose handoffs (and people's availability) `user` manages: leads and directors."""
    return teams_with_perm(principal=user, codename=MANAGE_HANDOFFS).order_by("name")


def member_team_ids(*, user: Any) -> set[int]:
    return set(Membership.objects.filter(user=user).values_list("team_id", flat=True))
