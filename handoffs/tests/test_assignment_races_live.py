"""Issue 8, concurrency 2: auto-assignment racing manual claims on the real stack. The
assignment sweep runs in a real Celery worker (two threads, so two sweeps really overlap) while
reps claim the same handoffs over HTTP against uvicorn (`--workers 2`, production settings):
one owner per handoff, one `claimed` event each, every losing claim a 409 naming the owner,
and capacity respected by auto-assignment (docs/assignment.md: a manual claim ignores it).

The in-process versions, with threads on one machine's connections, are
test_assignment_races.py."""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from datetime import time as clock_time
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from conftest import Org
from handoffs.choices import HandoffEventKind, HandoffStatus
from handoffs.models import Handoff, HandoffEvent
from handoffs.services import RaiseRequest, handoff_raise
from handoffs.tasks import assignment_sweep
from handoffs.tests import live_support as live
from journeys.models import Contact
from portal.choices import Role
from portal.models import Availability, Team
from portal.services import availability_set_hours, availability_set_status, membership_set

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HANDOFFS = 300 if live.soak() else 60
AUTO_PEOPLE = 3
CAPACITY = 8  # 24 handoffs auto-assignment may give, fewer than the claimers leave it
CLAIMERS = 6
CONTESTED = 0.5  # this share of handoffs is also claimed by hand, by two claimers each
ALL_DAY = [(d, clock_time(0), clock_time(0)) for d in range(7)]


def person(org: Org, username: str) -> Any:
    user = get_user_model().objects.create_user(
        username=username, first_name=username.title(), last_name="Live"
    )
    membership_set(user=user, team=org.teams["sales"], role=Role.REP)
    return user


def raise_waiting(org: Org, n: int) -> list[int]:
    """Raised while Sales is manual, so nothing assigns them before the race."""
    ids = []
    for i in range(n):
        contact = Contact.objects.create(external_id=f"race-{i}", name=f"Race {i}")
        handoff, _ = handoff_raise(
            request=RaiseRequest(
                contact=contact,
                team=org.teams["sales"],
                trigger="complexity",
                priority="normal",
                reason="race",
                evidence={},
            )
        )
        ids.append(handoff.pk)
    return ids


def test_the_sweep_in_a_worker_and_reps_claiming_over_http_leave_one_owner_each(
    org: Org,
) -> None:
    autos = [person(org, f"auto{n}") for n in range(AUTO_PEOPLE)]
    for user in autos:
        availability_set_hours(user=user, time_zone="UTC", periods=ALL_DAY)
        availability_set_status(user=user, status="available")
        Availability.objects.filter(user=user).update(capacity=CAPACITY)
    claimers = [person(org, f"claimer{n}") for n in range(CLAIMERS)]  # offline: never auto
    sessions = {user.pk: live.session_for(user) for user in claimers}
    names = {u.pk: f"{u.first_name} Live" for u in [*autos, *claimers]}
    ids = raise_waiting(org, HANDOFFS)
    # Switched without the service's immediate pass: the race itself hands them out.
    Team.objects.filter(pk=org.teams["sales"].pk).update(assignment_mode="round_robin")

    # Claims go oldest first, the order the sweep walks, so both reach the same rows together.
    pick = random.Random(2)
    plan = [
        (handoff_id, rep.pk)
        for handoff_id in ids
        if pick.random() < CONTESTED
        for rep in pick.sample(claimers, 2)
    ]

    with live.live(worker=True) as (server, worker), live.tasks_to_broker():
        assert worker is not None
        sweeps: list[str] = []

        async def race() -> list[live.Answer]:
            async with live.http_client(server.url, 16) as client:
                claims = asyncio.ensure_future(
                    live.bounded(
                        [
                            lambda h=h, r=r: live.post(
                                client, f"/api/v1/handoffs/{h}/claim/", session=sessions[r]
                            )
                            for h, r in plan
                        ],
                        concurrency=16,
                    )
                )
                while not claims.done():  # two sweeps at a time, all through the claims
                    for _ in range(2):
                        sweeps.append((await asyncio.to_thread(assignment_sweep.delay)).id)
                    await asyncio.sleep(0.3)
                return await claims

        answers = live.run(race())
        # One more pass once the claims are over settles what the race left waiting.
        sweeps.append(assignment_sweep.delay().id)
        worker.wait_for(
            f"{len(sweeps)} sweeps to finish",
            lambda: all(
                re.search(rf"assignment_sweep\[{s}\] succeeded", worker.full_log()) for s in sweeps
            ),
            timeout=120,
        )
        server_errors = server.server_errors()
        worker_errors = [
            line for line in worker.full_log().splitlines() if re.search(r"ERROR|Traceback", line)
        ]

    assert server_errors == [] and worker_errors == []
    assert {a.status for a in answers} <= {200, 409}, Counter(a.status for a in answers)
    handoffs = {h.pk: h for h in Handoff.objects.filter(pk__in=ids)}

    manual_wins: dict[int, int] = {}
    for (handoff_id, rep_id), answer in zip(plan, answers, strict=True):
        owner = handoffs[handoff_id].assignee_id
        if answer.status == 200:
            assert handoff_id not in manual_wins  # one 200 per handoff
            assert owner == rep_id
            manual_wins[handoff_id] = rep_id
        else:
            assert answer.json()["detail"] == f"Already claimed by {names[owner]}"

    events = {
        e.handoff_id: e
        for e in HandoffEvent.objects.filter(handoff_id__in=ids, kind=HandoffEventKind.CLAIMED)
    }
    counts = Counter(
        HandoffEvent.objects.filter(handoff_id__in=ids, kind=HandoffEventKind.CLAIMED).values_list(
            "handoff_id", flat=True
        )
    )
    auto_ids = {u.pk for u in autos}
    auto_given: Counter[int] = Counter()
    for handoff_id, handoff in handoffs.items():
        if handoff.assignee_id is None:
            assert handoff.status == HandoffStatus.OPEN
            assert counts[handoff_id] == 0
            continue
        assert handoff.status == HandoffStatus.CLAIMED
        assert counts[handoff_id] == 1
        event = events[handoff_id]
        if handoff_id in manual_wins:
            assert event.actor_id == handoff.assignee_id and not event.data.get("auto")
        else:
            assert handoff.assignee_id in auto_ids
            assert event.actor_id is None and event.data["auto"] is True
            assert event.data["to_id"] == handoff.assignee_id
            auto_given[handoff.assignee_id] += 1

    # Capacity: nobody was given more than theirs, and what is still waiting waits because every
    # auto-assignable person is full.
    assert all(n <= CAPACITY for n in auto_given.values()), auto_given
    waiting = [h for h in handoffs.values() if h.assignee_id is None]
    assert sum(auto_given.values()) == AUTO_PEOPLE * CAPACITY
    assert len(waiting) == HANDOFFS - len(manual_wins) - AUTO_PEOPLE * CAPACITY
    lost_to_auto = sum(
        a.status == 409 and handoffs[h].assignee_id in auto_ids
        for (h, _), a in zip(plan, answers, strict=True)
    )
    print(
        f"\nassignment race: {HANDOFFS} handoffs, {len(plan)} claims over HTTP "
        f"({len(manual_wins)} won, {sum(a.status == 409 for a in answers)} × 409, of which "
        f"{lost_to_auto} to auto-assignment), "
        f"{len(sweeps)} sweeps in the worker ({sum(auto_given.values())} auto-assigned), "
        f"{len(waiting)} left waiting for capacity, 0 × 5xx"
    )
