"""Who holds a handoff: claim, release, reassign, and resolve (which may resume the contact's
paused journeys).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

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
from portal.choices import EventType
from portal.errors import Conflict
from portal.realtime import lock_event_seq


@transaction.atomic
def handoff_claim(*, handoff_id: int, user: Any) -> Handoff:
    """Give an open handoff to `user`. Exactly one concurrent caller wins; the rest get Conflict.

    Race prevented: two reps clicking Claim together. The compare-and-swap UPDATE only matches
    an unassigned open row, so the database picks one winner."""
    lock_event_seq()
    won = Handoff.objects.filter(id=handoff_id, assignee=None, status=HandoffStatus.OPEN).update(
        assignee=user,
        status=HandoffStatus.CLAIMED,
        claimed_at=timezone.now(),
        updated_at=timezone.now(),
    )
    handoff = _fresh(handoff_id)
    if won != 1:
        if handoff.assignee_id == user.pk:
            return handoff  # claiming your own handoff again is a no-op, not a conflict
        if handoff.status == HandoffStatus.RESOLVED:
            raise Conflict("This handoff is resolved")
        raise Conflict(_blocked_by(handoff) or f"This handoff is {handoff.get_status_display()}")
    HandoffEvent.objects.create(handoff=handoff, kind=HandoffEventKind.CLAIMED, actor=user)
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


@transaction.atomic
def handoff_release(*, handoff_id: int, user: Any, may_override: bool = False) -> Handoff:
    """Put a claimed handoff back in the team pool: its owner, or a lead (`may_override`)."""
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
        data={"from": previous.username if previous else None},
    )
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff


@transaction.atomic
def handoff_reassign(*, handoff_id: int, user: Any, assignee: Any) -> Handoff:
    """A lead gives the handoff to someone on the team (the caller checked both)."""
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
) -> Handoff:
    """Close the handoff; with `resume_automation` the contact's paused journeys carry on, unless
    another handoff still holds the contact."""
    handoff = _locked(handoff_id)
    if handoff.status == HandoffStatus.RESOLVED:
        raise Conflict("This handoff is already resolved")
    _owner_or_override(handoff, user, may_override)
    now = timezone.now()
    handoff.status = HandoffStatus.RESOLVED
    handoff.resolution = (resolution or "").strip()[:2000]
    handoff.resume_automation = resume_automation
    handoff.resolved_at = now
    if handoff.assignee_id is None:
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
        data={"resolution": handoff.resolution, "resume_automation": resume_automation},
    )
    if resume_automation:
        still_held = Handoff.objects.filter(
            contact_id=handoff.contact_id, status__in=ACTIVE_STATUSES
        ).exists()
        if not still_held:
            enrollments_resume_for_contact(
                contact_id=handoff.contact_id,
                actor=user,
                reason=f"Handoff #{handoff.pk} resolved by {display_name(user)}",
            )
    _announce([handoff], EventType.HANDOFF_UPDATED)
    return handoff
