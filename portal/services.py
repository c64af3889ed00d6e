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
from portal.roles import ROLE_PERMISSIONS, permissions_for_roles

log = logging.getLogger("baton.audit")

ALL_ROLE_PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values())


def membership_sync(*, user: AbstractBaseUser, team: Team) -> None:
    """Grant what the user's role on `team` needs and revoke role permissions it no longer needs.
    Permissions outside the role table (granted by hand in admin) are left alone."""
    roles = set(Membership.objects.filter(user=user, team=team).values_list("role", flat=True))
    wanted = permissions_for_roles(roles)
    held = set(get_perms(user, team)) & ALL_ROLE_PERMISSIONS
    for codename in wanted - held:
        assign_perm(f"portal.{codename}", user, team)
    for codename in held - wanted:
        remove_perm(f"portal.{codename}", user, team)


@transaction.atomic
def membership_set(*, user: AbstractBaseUser, team: Team, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, team=team, defaults={"role": role}
    )
    membership_sync(user=user, team=team)
    log.info("membership set: user=%s team=%s role=%s", user.pk, team.slug, role)
    return membership


@transaction.atomic
def membership_remove(*, user: AbstractBaseUser, team: Team) -> None:
    Membership.objects.filter(user=user, team=team).delete()
    membership_sync(user=user, team=team)
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
