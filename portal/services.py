"""Writes for teams, people and keys. Membership is the source of truth: these services keep the
per-team guardian permissions (what every check reads) in step with it."""

from __future__ import annotations

import logging
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from guardian.shortcuts import assign_perm, get_perms, remove_perm

from portal.api_auth import KEY_PREFIX, hash_secret
from portal.models import ApiKey, Membership, Team
from portal.roles import permissions_for_roles

log = logging.getLogger("baton.audit")


def _apply(
    *, user: AbstractBaseUser, team: Team, before: frozenset[str], after: frozenset[str]
) -> None:
    """Grant what the new role needs; revoke only what the old role gave and the new one does not,
    so permissions ops granted by hand in admin survive role changes."""
    held = set(get_perms(user, team))
    for codename in after - held:
        assign_perm(f"portal.{codename}", user, team)
    for codename in (before - after) & held:
        remove_perm(f"portal.{codename}", user, team)


def _role_permissions(user: AbstractBaseUser, team: Team) -> frozenset[str]:
    roles = set(Membership.objects.filter(user=user, team=team).values_list("role", flat=True))
    return permissions_for_roles(roles)


@transaction.atomic
def membership_set(*, user: AbstractBaseUser, team: Team, role: str) -> Membership:
    before = _role_permissions(user, team)
    membership, _ = Membership.objects.update_or_create(
        user=user, team=team, defaults={"role": role}
    )
    _apply(user=user, team=team, before=before, after=permissions_for_roles({role}))
    log.info("membership set: user=%s team=%s role=%s", user.pk, team.slug, role)
    return membership


@transaction.atomic
def membership_remove(*, user: AbstractBaseUser, team: Team) -> None:
    before = _role_permissions(user, team)
    Membership.objects.filter(user=user, team=team).delete()
    _apply(user=user, team=team, before=before, after=frozenset())
    log.info("membership removed: user=%s team=%s", user.pk, team.slug)


def api_key_create(*, name: str, can_read_handoffs: bool = False) -> tuple[ApiKey, str]:
    """Make a key; the raw key is returned once and never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        can_read_handoffs=can_read_handoffs,
    )
    return key, f"{KEY_PREFIX}{prefix}_{secret}"
