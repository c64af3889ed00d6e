"""Auto-assignment's races, on PostgreSQL with real threads and connections: against a manual
claim, between sweepers, and against a person's capacity."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import time
from typing import Any

import pytest

from conftest import Org, run_concurrently
from handoffs.choices import HandoffEventKind, HandoffStatus
from handoffs.models import Handoff, HandoffEvent
from handoffs.services import RaiseRequest, handoff_claim, handoff_raise
from handoffs.services.ownership import handoff_auto_assign
from handoffs.tasks import assignment_sweep
from journeys.models import Contact
from portal.choices import Role
from portal.errors import Conflict
from portal.models import Availability, Team
from portal.services import (
    availability_set_hours,
    availability_set_status,
    membership_set,
)

pytestmark = pytest.mark.django_db(transaction=True)

ALL_DAY = [(d, time(0), time(0)) for d in range(7)]


def available(user: Any, capacity: int) -> None:
    availability_set_hours(user=user, time_zone="UTC", periods=ALL_DAY)
    availability_set_status(user=user, status="available")
    Availability.objects.filter(user=user).update(capacity=capacity)


def waiting(org: Org, team: str, n: int) -> list[int]:
    """Open handoffs raised while the team is still manual, so nothing assigns them yet."""
    ids = []
    for i in range(n):
        contact = Contact.objects.create(external_id=f"c-{team}-{i}", name=f"C {i}")
        handoff, _ = handoff_raise(
            request=RaiseRequest(
                contact=contact,
                team=org.teams[team],
                trigger="complexity",
                priority="normal",
                reason="?",
                evidence={},
            )
        )
        ids.append(handoff.pk)
    return ids


def outcome(call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return call()
        except Conflict as exc:
            return exc

    return run


def set_mode(org: Org, team: str, mode: str) -> None:
    """Switch the mode without the service's immediate pass: the race itself must hand out the
    waiting handoffs."""
    Team.objects.filter(pk=org.teams[team].pk).update(assignment_mode=mode)


def claimed_events(handoff_id: int) -> int:
    return HandoffEvent.objects.filter(handoff_id=handoff_id, kind=HandoffEventKind.CLAIMED).count()


def test_auto_assignment_and_a_manual_claim_at_once_leave_one_owner(org: Org):
    riley, rob = org.users["riley"], org.users["rob"]
    available(riley, capacity=50)
    ids = waiting(org, "sales", 8)
    set_mode(org, "sales", "round_robin")

    for handoff_id in ids:
        results = run_concurrently(
            [
                outcome(lambda h=handoff_id: handoff_auto_assign(handoff_id=h)),
                outcome(lambda h=handoff_id: handoff_claim(handoff_id=h, user=rob)),
                outcome(lambda h=handoff_id: handoff_auto_assign(handoff_id=h)),
            ]
        )
        handoff = Handoff.objects.get(pk=handoff_id)
        assert handoff.status == HandoffStatus.CLAIMED
        assert claimed_events(handoff_id) == 1
        auto_won = [r for r in (results[0], results[2]) if isinstance(r, Handoff)]
        if handoff.assignee == rob:
            assert results[1].assignee == rob and auto_won == []  # the assigners skipped
        else:
            assert handoff.assignee == riley and len(auto_won) == 1
            assert isinstance(results[1], Conflict)  # the API turns this into a 409
            assert results[1].detail == "Already claimed by Riley Reed"


def test_sweepers_running_together_assign_each_handoff_once_and_keep_the_turns(org: Org):
    riley, rob = org.users["riley"], org.users["rob"]
    available(riley, capacity=50)
    available(rob, capacity=50)
    ids = waiting(org, "sales", 12)
    set_mode(org, "sales", "round_robin")

    results = run_concurrently([assignment_sweep] * 4)

    assert sum(results) == 12
    assert all(claimed_events(h) == 1 for h in ids)
    owners = Counter(
        Handoff.objects.filter(pk__in=ids).values_list("assignee__username", flat=True)
    )
    assert owners == {"riley": 6, "rob": 6}  # the round-robin cursor never read stale


def test_capacity_holds_when_two_teams_assign_to_the_same_person_at_once(org: Org):
    riley = org.users["riley"]
    membership_set(user=riley, team=org.teams["success"], role=Role.CSM)
    available(riley, capacity=3)
    ids = waiting(org, "sales", 5) + waiting(org, "success", 5)
    set_mode(org, "sales", "least_loaded")
    set_mode(org, "success", "round_robin")

    results = run_concurrently(
        [lambda h=handoff_id: handoff_auto_assign(handoff_id=h) for handoff_id in ids]
    )

    assert len([r for r in results if r is not None]) == 3
    assert Handoff.objects.filter(assignee=riley, status=HandoffStatus.CLAIMED).count() == 3
    assert Handoff.objects.filter(pk__in=ids, status=HandoffStatus.OPEN).count() == 7
