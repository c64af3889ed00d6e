"""Auto-assignment as a service: a claim made for the person the policy picks, audited and
announced; the sweep; the triggers (a raise, someone becoming available); and how claims,
releases and reassignments live alongside it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import count
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from conftest import Org
from handoffs.assignment import RELEASE_COOLDOWN
from handoffs.choices import HandoffEventKind, HandoffStatus
from handoffs.models import Handoff, HandoffEvent
from handoffs.services import (
    RaiseRequest,
    handoff_claim,
    handoff_raise,
    handoff_reassign,
    handoff_release,
    handoff_resolve,
)
from handoffs.services.ownership import handoff_auto_assign, handoffs_auto_assign_waiting
from handoffs.tasks import assignment_sweep
from journeys.models import Contact
from portal.choices import Role
from portal.errors import Conflict
from portal.models import Availability, Event
from portal.services import (
    availability_set_hours,
    availability_set_status,
    membership_set,
    team_set_assignment_mode,
)

ALL_DAY = [(d, time(0), time(0)) for d in range(7)]
_contacts = count(1)


def available(user: Any, *, capacity: int = 5, status: str = "available", **hours: Any) -> None:
    availability_set_hours(
        user=user, time_zone=hours.get("time_zone", "UTC"), periods=hours.get("periods", ALL_DAY)
    )
    availability_set_status(user=user, status=status)
    Availability.objects.filter(user=user).update(capacity=capacity)


def raise_handoff(org: Org, team: str = "sales", *, offered_to_role: str = "") -> Handoff:
    n = next(_contacts)
    contact = Contact.objects.create(external_id=f"c-auto-{n}", name=f"Contact {n}")
    handoff, _ = handoff_raise(
        request=RaiseRequest(
            contact=contact,
            team=org.teams[team],
            trigger="complexity",
            priority="normal",
            reason=f"Question {n}",
            evidence={"n": n},
            offered_to_role=offered_to_role,
        )
    )
    return handoff


@pytest.fixture
def sales_rr(org: Org) -> Org:
    team_set_assignment_mode(team=org.teams["sales"], mode="round_robin")
    available(org.users["riley"])
    available(org.users["rob"])
    return org


def test_auto_assignment_claims_the_handoff_for_the_next_person_in_turn(sales_rr: Org):
    org = sales_rr
    handoffs = [raise_handoff(org) for _ in range(3)]

    owners = [handoff_auto_assign(handoff_id=h.pk).assignee.username for h in handoffs]

    assert owners == ["riley", "rob", "riley"]  # by user id: riley joined first
    first = Handoff.objects.get(pk=handoffs[0].pk)
    assert first.status == HandoffStatus.CLAIMED
    assert first.claimed_at is not None
    event = HandoffEvent.objects.get(handoff=first, kind=HandoffEventKind.CLAIMED)
    assert event.actor is None
    assert event.data["detail"] == "auto-assigned (round robin)"
    assert event.data["to"] == "riley"
    org.teams["sales"].refresh_from_db()
    assert org.teams["sales"].round_robin_cursor == org.users["riley"].pk
    announced = Event.objects.filter(handoff_id=first.pk, type="handoff.updated").get()
    assert announced.payload["status"] == "claimed"
    assert announced.payload["assignee"]["username"] == "riley"


def test_a_claim_after_auto_assignment_gets_a_conflict_and_the_api_a_409(sales_rr: Org, as_user):
    handoff = raise_handoff(sales_rr)
    handoff_auto_assign(handoff_id=handoff.pk)

    with pytest.raises(Conflict, match="Already claimed by Riley Reed"):
        handoff_claim(handoff_id=handoff.pk, user=sales_rr.users["rob"])
    response = as_user("rob").post(f"/api/v1/handoffs/{handoff.pk}/claim/")
    assert response.status_code == 409
    assert response.json() == {"detail": "Already claimed by Riley Reed"}


def test_a_manual_team_is_left_to_people_claiming(org: Org):
    available(org.users["riley"])
    handoff = raise_handoff(org)

    assert handoff_auto_assign(handoff_id=handoff.pk) is None
    assert handoffs_auto_assign_waiting() == 0
    assert Handoff.objects.get(pk=handoff.pk).status == HandoffStatus.OPEN


def test_with_nobody_eligible_the_handoff_waits_in_the_pool(org: Org):
    team_set_assignment_mode(team=org.teams["sales"], mode="least_loaded")
    available(org.users["riley"], status="busy")
    available(org.users["rob"], periods=[])  # no working hours set
    handoff = raise_handoff(org)

    assert handoff_auto_assign(handoff_id=handoff.pk) is None
    handoff.refresh_from_db()
    assert (handoff.status, handoff.assignee) == (HandoffStatus.OPEN, None)
    assert not HandoffEvent.objects.filter(handoff=handoff, kind=HandoffEventKind.CLAIMED)


def test_working_hours_are_checked_at_the_moment_of_assignment(org: Org):
    team_set_assignment_mode(team=org.teams["sales"], mode="round_robin")
    monday_9_to_5_new_york = [(0, time(9), time(17))]
    available(org.users["riley"], time_zone="America/New_York", periods=monday_9_to_5_new_york)
    handoff = raise_handoff(org)
    monday = datetime(2026, 11, 23, tzinfo=UTC)

    assert handoff_auto_assign(handoff_id=handoff.pk, now=monday + timedelta(hours=13)) is None
    assigned = handoff_auto_assign(handoff_id=handoff.pk, now=monday + timedelta(hours=14))
    assert assigned.assignee == org.users["riley"]


def test_least_loaded_counts_active_handoffs_in_every_team(org: Org):
    riley, rob = org.users["riley"], org.users["rob"]
    membership_set(user=riley, team=org.teams["success"], role=Role.CSM)
    team_set_assignment_mode(team=org.teams["sales"], mode="least_loaded")
    available(riley)
    available(rob)
    for _ in range(2):
        handoff_claim(handoff_id=raise_handoff(org, "success").pk, user=riley)
    handoff_claim(handoff_id=raise_handoff(org).pk, user=rob)
    resolved = raise_handoff(org)
    handoff_claim(handoff_id=resolved.pk, user=rob)
    handoff_resolve(handoff_id=resolved.pk, user=rob, resolution="done", resume_automation=False)

    handoff = handoff_auto_assign(handoff_id=raise_handoff(org).pk)

    assert handoff.assignee == rob  # 1 active against riley's 2; resolved ones do not count
    event = HandoffEvent.objects.get(handoff=handoff, kind=HandoffEventKind.CLAIMED)
    assert event.data["detail"] == "auto-assigned (least loaded)"
    assert Availability.objects.get(user=rob).last_assigned_at is not None


def test_capacity_stops_auto_assignment_but_not_a_persons_own_claim(org: Org):
    team_set_assignment_mode(team=org.teams["sales"], mode="round_robin")
    riley = org.users["riley"]
    available(riley, capacity=1)
    first, second = raise_handoff(org), raise_handoff(org)

    assert handoff_auto_assign(handoff_id=first.pk).assignee == riley
    assert handoff_auto_assign(handoff_id=second.pk) is None

    assert handoff_claim(handoff_id=second.pk, user=riley).assignee == riley


def test_a_handoff_offered_to_the_director_goes_to_them_first_then_to_the_pool(sales_rr: Org):
    org = sales_rr
    sam = org.users["sam"]
    available(sam)
    routine = raise_handoff(org)
    offered = raise_handoff(org, offered_to_role=Role.DIRECTOR)

    assert handoff_auto_assign(handoff_id=routine.pk).assignee.username == "riley"
    assert handoff_auto_assign(handoff_id=offered.pk).assignee == sam
    event = HandoffEvent.objects.get(handoff=offered, kind=HandoffEventKind.CLAIMED)
    assert event.data["detail"] == "auto-assigned (round robin), offered to the Director"

    availability_set_status(user=sam, status="away")
    while_away = raise_handoff(org, offered_to_role=Role.DIRECTOR)
    assert handoff_auto_assign(handoff_id=while_away.pk).assignee.username in {"riley", "rob"}


def test_a_released_handoff_goes_back_to_the_pool_but_not_straight_back_to_its_owner(
    sales_rr: Org,
):
    org = sales_rr
    riley, rob = org.users["riley"], org.users["rob"]
    handoff = raise_handoff(org)
    assert handoff_auto_assign(handoff_id=handoff.pk).assignee == riley

    handoff_release(handoff_id=handoff.pk, user=riley)
    assert Handoff.objects.get(pk=handoff.pk).status == HandoffStatus.OPEN
    # Only riley is available, and she just gave it back: it waits out the cooldown.
    availability_set_status(user=rob, status="busy")
    assert handoff_auto_assign(handoff_id=handoff.pk) is None
    later = timezone.now() + RELEASE_COOLDOWN + timedelta(minutes=1)
    assert handoff_auto_assign(handoff_id=handoff.pk, now=later).assignee == riley


def test_a_lead_releasing_someones_handoff_keeps_it_from_them_too(sales_rr: Org):
    org = sales_rr
    riley, rob, sam = org.users["riley"], org.users["rob"], org.users["sam"]
    handoff = raise_handoff(org)
    handoff_auto_assign(handoff_id=handoff.pk)
    team_set_assignment_mode(team=org.teams["sales"], mode="least_loaded")
    handoff_claim(handoff_id=raise_handoff(org).pk, user=rob)  # least loaded would pick riley

    handoff_release(handoff_id=handoff.pk, user=sam, may_override=True)

    assert handoff_auto_assign(handoff_id=handoff.pk).assignee == rob
    released = HandoffEvent.objects.get(handoff=handoff, kind=HandoffEventKind.RELEASED)
    assert released.data == {"from": "riley", "from_id": riley.pk}


def test_a_lead_reassigns_an_auto_assigned_handoff_even_past_capacity(sales_rr: Org):
    org = sales_rr
    rob = org.users["rob"]
    Availability.objects.filter(user=rob).update(capacity=0)
    handoff = raise_handoff(org)
    handoff_auto_assign(handoff_id=handoff.pk)

    moved = handoff_reassign(handoff_id=handoff.pk, user=org.users["sam"], assignee=rob)

    assert (moved.assignee, moved.status) == (rob, HandoffStatus.CLAIMED)


def test_the_sweep_assigns_waiting_handoffs_oldest_first_up_to_capacity(org: Org):
    team_set_assignment_mode(team=org.teams["sales"], mode="round_robin")
    riley = org.users["riley"]
    available(riley, capacity=2)
    newest, oldest, middle = raise_handoff(org), raise_handoff(org), raise_handoff(org)
    now = timezone.now()
    for age, handoff in [(1, newest), (30, oldest), (10, middle)]:
        Handoff.objects.filter(pk=handoff.pk).update(created_at=now - timedelta(minutes=age))
    manual = raise_handoff(org, "success")

    assert assignment_sweep() == 2

    owned = set(Handoff.objects.filter(assignee=riley).values_list("pk", flat=True))
    assert owned == {oldest.pk, middle.pk}
    assert Handoff.objects.get(pk=newest.pk).status == HandoffStatus.OPEN
    assert Handoff.objects.get(pk=manual.pk).status == HandoffStatus.OPEN


def test_the_sweep_can_be_limited_to_some_teams(org: Org):
    for slug in ("sales", "success"):
        team_set_assignment_mode(team=org.teams[slug], mode="round_robin")
    available(org.users["riley"])
    available(org.users["casey"])
    sales, success = raise_handoff(org), raise_handoff(org, "success")

    assert assignment_sweep(team_ids=[org.teams["success"].pk]) == 1

    assert Handoff.objects.get(pk=success.pk).assignee == org.users["casey"]
    assert Handoff.objects.get(pk=sales.pk).assignee is None


def test_raising_in_an_auto_team_assigns_after_commit(
    sales_rr: Org, django_capture_on_commit_callbacks: Any
):
    with django_capture_on_commit_callbacks(execute=True):
        handoff = raise_handoff(sales_rr)
        assert Handoff.objects.get(pk=handoff.pk).assignee is None  # not before commit

    assert Handoff.objects.get(pk=handoff.pk).assignee.username == "riley"


def test_a_batch_raising_many_handoffs_sends_one_pass_per_team(
    sales_rr: Org, django_capture_on_commit_callbacks: Any
):
    with (
        mock.patch.object(assignment_sweep, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        for _ in range(5):
            raise_handoff(sales_rr)
        raise_handoff(sales_rr, "success")  # manual: no pass

    delay.assert_called_once_with(team_ids=[sales_rr.teams["sales"].pk])


def test_becoming_available_hands_out_what_is_waiting(
    org: Org, django_capture_on_commit_callbacks: Any
):
    team_set_assignment_mode(team=org.teams["sales"], mode="round_robin")
    riley = org.users["riley"]
    available(riley, status="offline")
    handoff = raise_handoff(org)

    with django_capture_on_commit_callbacks(execute=True):
        availability_set_status(user=riley, status="busy")
    assert Handoff.objects.get(pk=handoff.pk).assignee is None

    with django_capture_on_commit_callbacks(execute=True):
        availability_set_status(user=riley, status="available")
    assert Handoff.objects.get(pk=handoff.pk).assignee == riley


def test_an_assigned_or_resolved_handoff_is_skipped(sales_rr: Org):
    org = sales_rr
    claimed, resolved = raise_handoff(org), raise_handoff(org)
    handoff_claim(handoff_id=claimed.pk, user=org.users["rob"])
    handoff_resolve(
        handoff_id=resolved.pk, user=org.users["rob"], resolution="x", resume_automation=False
    )

    assert handoff_auto_assign(handoff_id=claimed.pk) is None
    assert handoff_auto_assign(handoff_id=resolved.pk) is None
    assert Handoff.objects.get(pk=claimed.pk).assignee == org.users["rob"]


def test_over_the_api_a_director_reassigns_and_the_owner_releases_an_auto_assigned_handoff(
    sales_rr: Org, as_user: Any
):
    handoff = raise_handoff(sales_rr)
    handoff_auto_assign(handoff_id=handoff.pk)  # riley's turn

    moved = as_user("sam").post(
        f"/api/v1/handoffs/{handoff.pk}/reassign/", {"assignee": "rob"}, format="json"
    )
    assert moved.status_code == 200
    assert moved.json()["assignee"]["username"] == "rob"
    assert as_user("riley").post(f"/api/v1/handoffs/{handoff.pk}/release/").status_code == 403

    released = as_user("rob").post(f"/api/v1/handoffs/{handoff.pk}/release/")

    assert released.status_code == 200
    assert (released.json()["status"], released.json()["assignee"]) == ("open", None)
    assert handoff_auto_assign(handoff_id=handoff.pk).assignee.username == "riley"  # not rob


def test_the_handoff_history_says_who_it_was_auto_assigned_to(sales_rr: Org, client):
    handoff = raise_handoff(sales_rr)
    handoff_auto_assign(handoff_id=handoff.pk)
    client.force_login(sales_rr.users["rob"])

    html = client.get(f"/handoffs/{handoff.pk}/").content.decode()

    assert (
        'Claimed for riley <span class="muted small">(auto-assigned (round robin))</span>' in html
    )
