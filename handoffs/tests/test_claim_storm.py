"""Issue 8, concurrency 1: a claim storm over HTTP against a real uvicorn (`--workers 2`,
production settings, PostgreSQL, Redis). Many reps, each on their own session cookie, claim
every handoff at once: exactly one winner per handoff, every other API claim a clear 409 (the
portal's htmx claim answers with the "Already claimed by" notice), never a 5xx, one `claimed`
event and one log entry per handoff, and each rep owns exactly what they won.

CI runs 1,000 claims on 100 handoffs; BATON_SOAK=1 runs issue 8's 10,000 on 1,000. The rate
limits are off for the server under test (live_support.server_env): 30 reps storming is what
they exist to stop."""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from conftest import Org
from handoffs.choices import HandoffEventKind, HandoffStatus
from handoffs.models import Handoff, HandoffEvent
from handoffs.services import RaiseRequest, handoff_raise
from handoffs.tests import live_support as live
from journeys.models import Contact
from portal.choices import EventType, Role
from portal.models import Event
from portal.services import membership_set

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HANDOFFS = 1000 if live.soak() else 100
CLAIMS_PER_HANDOFF = 10  # 10,000 claims at the soak size, 1,000 in CI
REPS = 30
CONCURRENCY = 64  # requests in flight at once
PORTAL_SHARE = 0.1  # this share of claims is the inbox's htmx Claim button, the rest the API


def make_reps(org: Org) -> list[Any]:
    user_model = get_user_model()
    reps = []
    for n in range(REPS):
        user = user_model.objects.create_user(
            username=f"storm-rep-{n:02d}", first_name="Rep", last_name=f"{n:02d}"
        )
        membership_set(user=user, team=org.teams["sales"], role=Role.REP)
        reps.append(user)
    return reps


def raise_handoffs(org: Org, n: int) -> list[int]:
    ids = []
    for i in range(n):
        contact = Contact.objects.create(external_id=f"storm-{i}", name=f"Storm {i}")
        handoff, created = handoff_raise(
            request=RaiseRequest(
                contact=contact,
                team=org.teams["sales"],
                trigger="complexity",
                priority="normal",
                reason="storm",
                evidence={},
            )
        )
        assert created
        ids.append(handoff.pk)
    return ids


def test_a_claim_storm_has_exactly_one_winner_per_handoff_and_only_409s_for_the_rest(
    org: Org,
) -> None:
    started = time.monotonic()
    reps = make_reps(org)
    handoff_ids = raise_handoffs(org, HANDOFFS)
    sessions = {rep.pk: live.session_for(rep) for rep in reps}
    names = {rep.pk: f"Rep {rep.last_name}" for rep in reps}
    log_head = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0

    # Each handoff is claimed by CLAIMS_PER_HANDOFF different reps (a rep claiming what they
    # already own is a documented no-op 200, not a race); all claims shuffled together.
    shuffle = random.Random(8)
    plan: list[tuple[int, int, bool]] = []  # (handoff, rep, through the portal)
    for handoff_id in handoff_ids:
        for rep in shuffle.sample(reps, CLAIMS_PER_HANDOFF):
            plan.append((handoff_id, rep.pk, shuffle.random() < PORTAL_SHARE))
    shuffle.shuffle(plan)

    print(f"\nclaim storm: set up in {time.monotonic() - started:.1f} s")
    with live.live() as (server, _):
        storm_started = time.monotonic()

        async def storm() -> list[live.Answer]:
            async with live.http_client(server.url, CONCURRENCY) as client:

                def claim(handoff_id: int, rep_id: int, portal: bool) -> Any:
                    session = sessions[rep_id]
                    if portal:
                        return live.post(
                            client,
                            f"/handoffs/{handoff_id}/claim/",
                            session=session,
                            data={"from": "row"},
                            headers={"HX-Request": "true"},
                        )
                    return live.post(
                        client, f"/api/v1/handoffs/{handoff_id}/claim/", session=session
                    )

                return await live.bounded(
                    [lambda p=p: claim(*p) for p in plan], concurrency=CONCURRENCY
                )

        answers = live.run(storm())
        print(f"claim storm: {len(plan)} claims in {time.monotonic() - storm_started:.1f} s")
        server_errors = server.server_errors()

    statuses = Counter(a.status for a in answers)
    api = [(p, a) for p, a in zip(plan, answers, strict=True) if not p[2]]
    portal = [(p, a) for p, a in zip(plan, answers, strict=True) if p[2]]
    print(
        f"\nclaim storm: {len(plan)} claims ({len(api)} API, {len(portal)} portal) on "
        f"{len(handoff_ids)} handoffs by {REPS} reps; statuses {dict(statuses)}"
    )
    assert server_errors == []
    assert {a.status for _, a in api} <= {200, 409}, statuses
    assert {a.status for _, a in portal} == {200}, statuses

    handoffs = {h.pk: h for h in Handoff.objects.filter(pk__in=handoff_ids)}
    api_wins: dict[int, list[int]] = defaultdict(list)
    for (handoff_id, rep_id, _), answer in api:
        if answer.status == 200:
            body = answer.json()
            assert body["id"] == handoff_id
            assert body["status"] == HandoffStatus.CLAIMED
            api_wins[handoff_id].append(rep_id)
        else:
            owner = handoffs[handoff_id].assignee_id
            assert answer.json()["detail"] == f"Already claimed by {names[owner]}", answer.body
    for (handoff_id, rep_id, _), answer in portal:
        if handoffs[handoff_id].assignee_id != rep_id:
            owner = handoffs[handoff_id].assignee_id
            assert f"Already claimed by {names[owner]}" in answer.body

    # Exactly one winner each: the owner is the one API 200, or a portal claimer with no API 200.
    winners = 0
    for handoff_id in handoff_ids:
        handoff = handoffs[handoff_id]
        assert handoff.status == HandoffStatus.CLAIMED
        assert handoff.assignee_id is not None
        wins = api_wins.get(handoff_id, [])
        assert wins in ([], [handoff.assignee_id])
        if not wins:
            portal_claimers = [r for (h, r, via_portal), _ in portal if h == handoff_id]
            assert handoff.assignee_id in portal_claimers
        winners += 1
    assert winners == len(handoff_ids)
    losses_409 = statuses[409]
    assert losses_409 == len(api) - sum(len(w) for w in api_wins.values())

    # One `claimed` event and one log entry per handoff, nothing else written by the storm.
    claimed = Counter(
        HandoffEvent.objects.filter(
            handoff_id__in=handoff_ids, kind=HandoffEventKind.CLAIMED
        ).values_list("handoff_id", flat=True)
    )
    assert claimed == dict.fromkeys(handoff_ids, 1)
    logged = Counter(Event.objects.filter(id__gt=log_head).values_list("type", "handoff_id"))
    assert logged == {(EventType.HANDOFF_UPDATED, h): 1 for h in handoff_ids}
    for event in Event.objects.filter(id__gt=log_head):
        assert event.payload["assignee"]["id"] == handoffs[event.handoff_id].assignee_id

    # Each rep owns exactly the handoffs the claims say they won.
    owned = Counter(h.assignee_id for h in handoffs.values())
    assert sum(owned.values()) == len(handoff_ids)
    assert set(owned) <= set(sessions)
    print(
        f"claim storm: {winners} winners, {losses_409} × 409, "
        f"{len(portal) - (len(handoff_ids) - len(api_wins))} portal losers, 0 × 5xx; "
        f"most owned by one rep {max(owned.values())}"
    )
