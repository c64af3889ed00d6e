"""Who holds a handoff: claim, auto-assignment (a claim made for someone), release, reassign,
and resolve (which may resume the contact's paused journeys).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from handoffs.assignment import (
    AUTO_MODES,
    RELEASE_COOLDOWN,
    WORKING_ROLES,
    Person,
    WorkPeriod,
    choose,
    cooling_down,
    unavailable_reason,
)
from handoffs.choices import (
    ACTIVE_STATUSES,
    HandoffEventKind,
    HandoffStatus,
)
from handoffs.models import Handoff, HandoffEvent
from handoffs.payloads import display_name
from handoffs.services.common import _announce, _blocked_by, _fresh, _locked
from journeys.services import (
    enrollments_resume_for_contact,
)
from portal.choices import AssignmentMode, AvailabilityStatus, EventType, Role
from portal.errors import Conflict
from portal.models import Availability, Membership, Team
from portal.realtime import lock_event_seq

# What counts against a person's capacity: active handoffs they own.
OWNED_STATUSES = (HandoffStatus.CLAIMED, HandoffStatus.WAITING_ON_CONTACT)


def handoff_claim(*, handoff_id: int, user: Any, seen: Handoff | None = None) -> Handoff:
    """Give an open handoff to `user`. Exactly one concurrent caller wins; the rest get Conflict.

    Race prevented: two reps clicking Claim together. The compare-and-swap UPDATE only matches
    an unassigned open row, so the database picks one winner.

    `seen`: the handoff as the caller has just read it. A committed claim or resolution is
    final for this click, so when `seen` already shows one the answer is given from it,
    without queueing for the event-log lock behind the winner (9 of 10 racing claimers)."""
    if seen is not None and seen.pk == handoff_id and not _claimable(seen):
        return _not_claimed(seen, user)
    return _claim(handoff_id, user)


def _claimable(handoff: Handoff) -> bool:
    return handoff.assignee_id is None and handoff.status == HandoffStatus.OPEN


def _not_claimed(handoff: Handoff, user: Any) -> Handoff:
    if handoff.assignee_id == user.pk:
        return handoff  # claiming your own handoff again is a no-op, not a conflict
    if handoff.status == HandoffStatus.RESOLVED:
        raise Conflict("This handoff is resolved")
    raise Conflict(_blocked_by(handoff) or f"This handoff is {handoff.get_status_display()}")


@transaction.atomic
def _claim(handoff_id: int, user: Any) -> Handoff:
    lock_event_seq()
    won = Handoff.objects.filter(id=handoff_id, assignee=None, status=HandoffStatus.OPEN).update(
        assignee=user,
        status=HandoffStatus.CLAIMED,
        claimed_at=timezone.now(),
        updated_at=timezone.now(),
    )
    handoff = _fresh(handoff_id)
    if won != 1:
        return _not_claimed(handoff, user)
    HandoffEvent.objects.create(handoff=handoff, kind=HandoffEventKind.CLAIMED, actor=user)
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


@transaction.atomic
def handoff_release(*, handoff_id: int, user: Any, may_override: bool = False) -> Handoff:
    """Put a claimed handoff back in the team pool: its owner, or a lead (`may_override`). In an
    auto-assigning team the next sweep may give it to someone else, but not back to the person
    it was taken from until RELEASE_COOLDOWN has passed."""
    handoff = _locked(handoff_id)
    if handoff.status == HandoffStatus.RESOLVED or handoff.assignee_id is None:
        raise Conflict("Only a claimed handoff can be released")
    _owner_or_override(handoff, user, may_override)
    previous = handoff.assignee
    handoff.assignee = None
    handoff.status = HandoffStatus.OPEN
    handoff.claimed_at = None
    handoff.save(update_fields=["assignee", "status", "claimed_at", "updated_at"])
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=HandoffEventKind.RELEASED,
        actor=user,
        # from_id: auto-assignment does not hand it straight back to them (RELEASE_COOLDOWN).
        data={
            "from": previous.username if previous else None,
            "from_id": previous.pk if previous else None,
        },
    )
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


@transaction.atomic
def handoff_reassign(*, handoff_id: int, user: Any, assignee: Any) -> Handoff:
    """A lead gives the handoff to someone on the team (the caller checked both). Capacity does
    not apply: it limits what auto-assignment gives, not a lead's judgement."""
    handoff = _locked(handoff_id)
    if handoff.status == HandoffStatus.RESOLVED:
        raise Conflict("This handoff is resolved")
    previous = handoff.assignee
    handoff.assignee = assignee
    if handoff.status == HandoffStatus.OPEN:
        handoff.status = HandoffStatus.CLAIMED
    handoff.claimed_at = timezone.now()
    handoff.save(update_fields=["assignee", "status", "claimed_at", "updated_at"])
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=HandoffEventKind.REASSIGNED,
        actor=user,
        data={"from": previous.username if previous else None, "to": assignee.username},
    )
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


def _owner_or_override(handoff: Handoff, user: Any, may_override: bool) -> None:
    """Checked under the row lock: a claim that landed after the caller looked still counts."""
    if handoff.assignee_id not in (None, user.pk) and not may_override:
        raise Conflict(_blocked_by(handoff))


@transaction.atomic
def handoff_resolve(
    *,
    handoff_id: int,
    user: Any,
    resolution: str,
    resume_automation: bool,
    may_override: bool = False,
    because: str = "",
    event_data: dict[str, Any] | None = None,
) -> Handoff:
    """Close the handoff; with `resume_automation` the contact's paused journeys carry on, unless
    another handoff still holds the contact. `user=None`: Baton closes it itself (an approval
    expired, a contact's data was erased), saying `because` on the resumed journeys' timeline;
    who owned it stays as it was."""
    handoff = _locked(handoff_id)
    if handoff.status == HandoffStatus.RESOLVED:
        raise Conflict("This handoff is already resolved")
    if user is not None:
        _owner_or_override(handoff, user, may_override)
    now = timezone.now()
    handoff.status = HandoffStatus.RESOLVED
    handoff.resolution = (resolution or "").strip()[:2000]
    handoff.resume_automation = resume_automation
    handoff.resolved_at = now
    if handoff.assignee_id is None and user is not None:
        handoff.assignee = user
        handoff.claimed_at = now
    handoff.save(
        update_fields=[
            "status",
            "resolution",
            "resume_automation",
            "resolved_at",
            "assignee",
            "claimed_at",
            "updated_at",
        ]
    )
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=HandoffEventKind.RESOLVED,
        actor=user,
        data={
            "resolution": handoff.resolution,
            "resume_automation": resume_automation,
            **(event_data or {}),
        },
    )
    if resume_automation:
        still_held = Handoff.objects.filter(
            contact_id=handoff.contact_id, status__in=ACTIVE_STATUSES
        ).exists()
        if not still_held:
            enrollments_resume_for_contact(
                contact_id=handoff.contact_id,
                actor=user,
                reason=because or f"Handoff #{handoff.pk} resolved by {display_name(user)}",
            )
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


# --- Auto-assignment: a claim made for the person the team's policy picks ---------------------

DEFAULT_CAPACITY: int = Availability._meta.get_field("capacity").default
MODE_LABELS = {
    AssignmentMode.ROUND_ROBIN: "round robin",
    AssignmentMode.LEAST_LOADED: "least loaded",
}


def assignment_people(*, team_ids: Iterable[int], lock: bool = False) -> dict[int, list[Person]]:
    """Each team's members whose role works handoffs, as the policy sees them: availability,
    working hours, and load (active handoffs owned in any team). Five queries for any number of
    teams and people.

    With `lock`, their availability rows are locked first (FOR NO KEY UPDATE, in user id order,
    so two lockers queue instead of deadlocking): the capacity check and the assignment that
    follows then see a load and a status nobody can change until commit."""
    memberships = list(
        Membership.objects.filter(
            team_id__in=list(team_ids), role__in=WORKING_ROLES, user__is_active=True
        )
        .select_related("user")
        .order_by("team_id", "user_id")
    )
    user_ids = sorted({m.user_id for m in memberships})
    if lock:
        list(
            Availability.objects.select_for_update(no_key=True)
            .filter(user_id__in=user_ids)
            .order_by("user_id")
            .values_list("id", flat=True)
        )
    availability = {
        a.user_id: a
        for a in Availability.objects.filter(user_id__in=user_ids).prefetch_related("periods")
    }
    load = dict(
        Handoff.objects.filter(assignee_id__in=user_ids, status__in=OWNED_STATUSES)
        .values_list("assignee_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    people: dict[int, list[Person]] = {}
    for m in memberships:
        a = availability.get(m.user_id)
        people.setdefault(m.team_id, []).append(
            Person(
                user_id=m.user_id,
                username=m.user.username,
                name=display_name(m.user),
                role=m.role,
                status=a.status if a else AvailabilityStatus.OFFLINE,
                time_zone=a.time_zone if a else "UTC",
                periods=tuple(
                    WorkPeriod(p.weekday, p.starts, p.ends) for p in (a.periods.all() if a else [])
                ),
                capacity=a.capacity if a else DEFAULT_CAPACITY,
                active=load.get(m.user_id, 0),
                last_assigned_at=a.last_assigned_at if a else None,
            )
        )
    return people


def handoff_auto_assign(*, handoff_id: int, now: datetime | None = None) -> Handoff | None:
    """Claim an open, unowned handoff in an auto-assigning team for the person its policy picks
    (status claimed, no actor), or leave it waiting when nobody is eligible. A manual claim
    afterwards gets 409, as after any claim; a lead may reassign, the owner may release."""
    handoff, _ = _auto_assign(handoff_id, now or timezone.now())
    return handoff


@transaction.atomic
def _auto_assign(handoff_id: int, now: datetime) -> tuple[Handoff | None, bool]:
    """The assignment, and whether anyone in the team was eligible at all (a sweep skips the
    rest of a team with nobody).

    Races prevented, in the lock order of docs/architecture.md extended (event log → team row →
    availability rows → handoff row):
    - with a manual claim or another assigner: the compare-and-swap UPDATE below only matches
      an unowned open row, so there is one owner; the loser of a claim gets 409, an assigner
      skips;
    - two assigners reading the same round-robin cursor: the team row is locked;
    - capacity: the candidates' availability rows are locked before their load is counted,
      so two assignments to one person (from two teams) are counted one after the other."""
    lock_event_seq()
    waiting = (
        Handoff.objects.filter(id=handoff_id, status=HandoffStatus.OPEN, assignee=None)
        .values("team_id", "offered_to_role")
        .first()
    )
    if waiting is None:
        return None, True
    team = Team.objects.select_for_update(no_key=True).get(pk=waiting["team_id"])
    if team.assignment_mode not in AUTO_MODES:
        return None, True
    people = assignment_people(team_ids=[team.pk], lock=True).get(team.pk, [])
    chosen = choose(
        mode=team.assignment_mode,
        people=people,
        at=now,
        cursor=team.round_robin_cursor,
        offered_to_role=waiting["offered_to_role"],
        exclude=_released_recently(handoff_id, people, now),
    )
    if chosen is None:
        return None, any(unavailable_reason(p, now) is None for p in people)
    won = Handoff.objects.filter(id=handoff_id, assignee=None, status=HandoffStatus.OPEN).update(
        assignee_id=chosen.user_id, status=HandoffStatus.CLAIMED, claimed_at=now, updated_at=now
    )
    if won != 1:
        return None, True
    if team.assignment_mode == AssignmentMode.ROUND_ROBIN:
        Team.objects.filter(pk=team.pk).update(round_robin_cursor=chosen.user_id)
    Availability.objects.filter(user_id=chosen.user_id).update(last_assigned_at=now)
    handoff = _fresh(handoff_id)
    detail = f"auto-assigned ({MODE_LABELS[team.assignment_mode]})"
    if waiting["offered_to_role"] and chosen.role == waiting["offered_to_role"]:
        detail += f", offered to the {Role(chosen.role).label}"
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=HandoffEventKind.CLAIMED,
        actor=None,
        data={"detail": detail, "auto": True, "to": chosen.username, "to_id": chosen.user_id},
    )
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff, True


def _released_recently(handoff_id: int, people: list[Person], now: datetime) -> frozenset[int]:
    """Who had this handoff taken back within the cooldown (older events name only a username)."""
    ids = {p.username: p.user_id for p in people}
    releases = []
    for data, at in HandoffEvent.objects.filter(
        handoff_id=handoff_id, kind=HandoffEventKind.RELEASED, at__gt=now - RELEASE_COOLDOWN
    ).values_list("data", "at"):
        user_id = data.get("from_id") or ids.get(data.get("from") or "")
        if user_id:
            releases.append((user_id, at))
    return cooling_down(releases, now)


def handoffs_auto_assign_waiting(
    *, team_ids: Iterable[int] | None = None, limit: int = 200, now: datetime | None = None
) -> int:
    """One pass over waiting handoffs in auto-assigning teams, oldest first; how many it
    assigned. Each assignment is its own short transaction, so two passes at once (beat and a
    raise, two workers) interleave safely: the second finds a handoff taken and moves on."""
    waiting = Handoff.objects.filter(
        status=HandoffStatus.OPEN, assignee=None, team__assignment_mode__in=AUTO_MODES
    )
    if team_ids is not None:
        waiting = waiting.filter(team_id__in=list(team_ids))
    oldest_first = list(waiting.order_by("created_at", "id").values_list("id", "team_id")[:limit])
    assigned, nobody = 0, set[int]()
    for handoff_id, team_id in oldest_first:
        if team_id in nobody:
            continue
        handoff, anyone = _auto_assign(handoff_id, now or timezone.now())
        if handoff is not None:
            assigned += 1
        elif not anyone:
            nobody.add(team_id)
    return assigned
