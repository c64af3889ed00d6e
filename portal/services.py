"""Writes for teams, people and keys. Membership is the source of truth: these services keep the
per-team guardian permissions (what every check reads) in step with it."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import time
from functools import lru_cache
from zoneinfo import available_timezones

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from guardian.shortcuts import assign_perm, get_perms, remove_perm

from portal.api_auth import KEY_PREFIX, hash_secret
from portal.choices import AssignmentMode, AvailabilityStatus
from portal.errors import InvalidInput
from portal.models import ApiKey, Availability, Membership, Team, WorkingPeriod
from portal.roles import permissions_for_roles
from portal.ws_auth import (
    CLOSE_NO_TEAMS,
    CLOSE_REVOKED,
    sockets_close_on_commit,
    sockets_recheck_on_commit,
)

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
    sockets_recheck_on_commit(principal=user)
    return membership


@transaction.atomic
def membership_remove(*, user: AbstractBaseUser, team: Team) -> None:
    """Take a person off a team. Their open sockets drop that team once this commits; once they
    are in no team at all, every socket of theirs is closed."""
    before = _role_permissions(user, team)
    Membership.objects.filter(user=user, team=team).delete()
    _apply(user=user, team=team, before=before, after=frozenset())
    log.info("membership removed: user=%s team=%s", user.pk, team.slug)
    if not Membership.objects.filter(user=user).exists():
        sockets_close_on_commit(principal=user, code=CLOSE_NO_TEAMS, reason="no team left")
    else:
        sockets_recheck_on_commit(principal=user)


@transaction.atomic
def user_set_active(
    *, user: AbstractBaseUser, active: bool, by: AbstractBaseUser | None = None
) -> None:
    """Activate or deactivate a person (admin's "Active" box calls this too). Deactivated: their
    sessions stop working at once (Django refuses inactive users) and, after commit, every
    socket they have open is closed."""
    type(user).objects.filter(pk=user.pk).update(is_active=active)
    user.is_active = active
    log.info("user %s: user=%s by=%s", "activated" if active else "deactivated", user.pk, _pk(by))
    if not active:
        sockets_close_on_commit(principal=user, code=CLOSE_REVOKED, reason="deactivated")


def api_key_create(
    *,
    name: str,
    can_read_handoffs: bool = False,
    rate_limit_per_minute: int | None = None,
    can_manage_contact_data: bool = False,
) -> tuple[ApiKey, str]:
    """Make a key; the raw key is returned once and never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        can_read_handoffs=can_read_handoffs,
        rate_limit_per_minute=rate_limit_per_minute,
        can_manage_contact_data=can_manage_contact_data,
    )
    return key, f"{KEY_PREFIX}{prefix}_{secret}"


@transaction.atomic
def api_key_revoke(*, keys: Sequence[ApiKey], by: AbstractBaseUser | None = None) -> int:
    """Revoke keys: refused from the next request on, and their open sockets closed after
    commit. Returns how many were still active."""
    active = list(ApiKey.objects.filter(pk__in=[k.pk for k in keys], revoked_at=None))
    ApiKey.objects.filter(pk__in=[k.pk for k in active]).update(revoked_at=timezone.now())
    for key in active:
        log.info("api key revoked: key=%s (%s) by=%s", key.pk, key.prefix, _pk(by))
        sockets_close_on_commit(principal=key, code=CLOSE_REVOKED, reason="key revoked")
    return len(active)


def _pk(user: AbstractBaseUser | None) -> object:
    return user.pk if user is not None else None


# --- Availability: what auto-assignment reads (handoffs/assignment.py) ---------------------------

# Named, not imported: portal is the base every app builds on, so it reaches the assignment pass
# the way beat does, by task name.
ASSIGNMENT_SWEEP_TASK = "handoffs.tasks.assignment_sweep"

MAX_PERIODS = 50


@lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _availability_locked(user: AbstractBaseUser) -> Availability:
    """The person's row, created on first use, locked for the rest of the transaction (an
    assignment counting their load waits for the change, and sees it)."""
    Availability.objects.get_or_create(user=user)
    return Availability.objects.select_for_update(no_key=True).get(user=user)


def _assignment_pass_on_commit(user: AbstractBaseUser) -> None:
    team_ids = list(Membership.objects.filter(user=user).values_list("team_id", flat=True))
    if not team_ids:
        return
    transaction.on_commit(
        lambda: import_string(ASSIGNMENT_SWEEP_TASK).delay(team_ids=team_ids), robust=True
    )


@transaction.atomic
def availability_set_status(*, user: AbstractBaseUser, status: str) -> Availability:
    """Set my status. Becoming available runs an assignment pass over my teams after commit, so
    handoffs waiting for someone reach me without waiting for the next sweep."""
    if status not in AvailabilityStatus.values:
        raise InvalidInput(
            "Unknown availability status.",
            {"status": [f"Choose one of: {', '.join(AvailabilityStatus.values)}."]},
        )
    availability = _availability_locked(user)
    if availability.status != status:
        availability.status = status
        availability.status_changed_at = timezone.now()
        availability.save(update_fields=["status", "status_changed_at", "updated_at"])
        log.info("availability: user=%s status=%s", user.pk, status)
    if status == AvailabilityStatus.AVAILABLE:
        _assignment_pass_on_commit(user)
    return availability


@transaction.atomic
def availability_set_hours(
    *, user: AbstractBaseUser, time_zone: str, periods: Sequence[tuple[int, time, time]]
) -> Availability:
    """Replace my working hours: (weekday 0 = Monday, starts, ends) in `time_zone`. An end at
    or before the start runs past midnight; equal start and end is the whole day."""
    errors: dict[str, list[str]] = {}
    if time_zone not in time_zone_names():
        errors["time_zone"] = [f"Unknown time zone {time_zone[:64]!r}; e.g. Europe/London."]
    if any(not 0 <= weekday <= 6 for weekday, _, _ in periods):
        errors["periods"] = ["A weekday is 0 (Monday) to 6 (Sunday)."]
    if len(periods) > MAX_PERIODS:
        errors["periods"] = [f"At most {MAX_PERIODS} periods."]
    if errors:
        raise InvalidInput("Invalid working hours.", errors)
    availability = _availability_locked(user)
    availability.time_zone = time_zone
    availability.save(update_fields=["time_zone", "updated_at"])
    availability.periods.all().delete()
    WorkingPeriod.objects.bulk_create(
        WorkingPeriod(availability=availability, weekday=weekday, starts=starts, ends=ends)
        for weekday, starts, ends in sorted(set(periods))
    )
    log.info("availability: user=%s hours=%d periods tz=%s", user.pk, len(periods), time_zone)
    if availability.status == AvailabilityStatus.AVAILABLE:
        _assignment_pass_on_commit(user)
    return availability


def availability_changed_in_admin(*, availability: Availability, by: AbstractBaseUser) -> None:
    """Admin saved someone's availability (status, hours, capacity): audit it, and let a pass
    hand out waiting work if they are available now."""
    log.info(
        "availability edited in admin: user=%s by=%s status=%s capacity=%s",
        availability.user_id,
        by.pk,
        availability.status,
        availability.capacity,
    )
    if availability.status == AvailabilityStatus.AVAILABLE:
        _assignment_pass_on_commit(availability.user)


@transaction.atomic
def team_set_assignment_mode(*, team: Team, mode: str, by: AbstractBaseUser | None = None) -> Team:
    """Switch a team between manual claiming and auto-assignment. Turning it on runs an
    assignment pass after commit, so what is already waiting is handed out at once."""
    if mode not in AssignmentMode.values:
        choices = ", ".join(AssignmentMode.values)
        raise InvalidInput(
            f"Unknown assignment mode {mode[:20]!r}. Choose one of: {choices}.",
            {"assignment_mode": [f"Choose one of: {choices}."]},
        )
    Team.objects.filter(pk=team.pk).update(assignment_mode=mode)
    team.assignment_mode = mode
    log.info("team assignment mode: team=%s mode=%s by=%s", team.slug, mode, by.pk if by else None)
    if mode != AssignmentMode.MANUAL:
        team_ids = [team.pk]
        transaction.on_commit(
            lambda: import_string(ASSIGNMENT_SWEEP_TASK).delay(team_ids=team_ids), robust=True
        )
    return team
