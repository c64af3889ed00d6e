"""Context shared by the pages and the live stream, so a fragment looks the same either way."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from governance.policies.selectors import approval_context
from handoffs.models import Handoff
from handoffs.selectors import handoff_history, handoff_signed_by, handoff_thread
from handoffs.services import signature_line
from journeys.choices import EnrollmentStatus
from journeys.models import Enrollment
from journeys.playbook.selectors import LazyPlaybook
from portal.roles import WORK_HANDOFFS
from portal.selectors import teams_with_perm, user_can_manage, user_can_work


def row_context(*, user: Any, work_team_ids: Iterable[int] | None = None) -> dict[str, Any]:
    """`work_team_ids`: already read (the live stream keeps them per socket)."""
    if work_team_ids is None:
        work_team_ids = teams_with_perm(principal=user, codename=WORK_HANDOFFS).values_list(
            "id", flat=True
        )
    return {"user": user, "work_team_ids": set(work_team_ids)}


def handoff_page_context(
    *, user: Any, handoff: Handoff, before: int | None = None
) -> dict[str, Any]:
    """`before`: show the conversation's page older than that message (no-JS "load older")."""
    can_work = user_can_work(user=user, team_id=handoff.team_id)
    can_manage = user_can_manage(user=user, team_id=handoff.team_id)
    mine = handoff.assignee_id == user.pk
    unowned = handoff.assignee_id is None
    thread = handoff_thread(handoff=handoff, principal=user, before=before)
    enrollments = list(
        Enrollment.objects.filter(contact_id=handoff.contact_id)
        .select_related("journey", "stage")
        .order_by("-created_at")[:5]
    )
    return {
        "user": user,
        "handoff": handoff,
        "contact": handoff.contact,
        "thread": thread.messages,  # not "messages": base.html shows that key as flash banners
        "thread_older": thread.older,
        "thread_before": before,
        "history": handoff_history(handoff=handoff),
        "enrollments": enrollments,
        "playbook": LazyPlaybook(contact=handoff.contact, principal=user, handoff=handoff),
        "has_paused": any(e.status == EnrollmentStatus.PAUSED_FOR_HUMAN for e in enrollments),
        "can_work": can_work,
        "can_claim": can_work and unowned and handoff.is_active,
        "can_reply": can_work and (mine or unowned) and handoff.is_active,
        "can_release": handoff.is_active and not unowned and (mine or can_manage),
        "can_resolve": handoff.is_active and can_work and (mine or unowned or can_manage),
        "signature": signature_line(user, handoff.team),
        # Held automated messages of an approval handoff (templates/governance/_approval.html).
        **approval_context(
            handoff=handoff, can_work=can_work, may_act=mine or unowned or can_manage
        ),
        "will_sign": not handoff_signed_by(handoff=handoff, user=user),
    }
