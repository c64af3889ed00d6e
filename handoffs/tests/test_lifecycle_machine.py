"""Issue 8, concurrency 4: a hypothesis state machine over the handoff services
(handoffs/services/), on PostgreSQL. Three contacts' handoffs are raised, claimed, released,
reassigned, replied to (waiting on the contact), answered by the contact, resolved, reopened by
a late reply, and swept for SLA breaches on a clock that only moves forward, in any order, by
people of every kind (two reps, the Sales director who leads the team).

After every step: at most one active handoff per contact and one owner; status, owner and
timestamps agree; the handoff's events (HandoffEvent) and its entries in the live event log
(portal.models.Event) are exactly what the steps so far should have written, in order, and the
log's latest payload is the handoff as stored; the SLA fields agree with the running clock.
A step the lifecycle does not allow raises Conflict and changes nothing (a snapshot of every
row it could touch is compared). The services have no offer/decline of a handoff
(`offered_to_role` only steers auto-assignment), so the machine has none.

Each example runs in a savepoint rolled back afterwards. CI: 20 examples of up to 20 steps;
BATON_SOAK=1: 300 of up to 60."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conftest import build_org
from governance.choices import BreachAction
from governance.models import SlaPolicy
from handoffs.choices import ACTIVE_STATUSES, HandoffEventKind, HandoffStatus, Priority
from handoffs.models import Handoff, HandoffEvent
from handoffs.services import (
    InboundMessage,
    RaiseRequest,
    handoff_claim,
    handoff_raise,
    handoff_reassign,
    handoff_release,
    handoff_reply,
    handoff_resolve,
    message_receive,
)
from handoffs.services.breaches import handoffs_sla_sweep
from journeys.services import contact_upsert
from portal.choices import EventType
from portal.errors import Conflict
from portal.models import Event
from portal.selectors import user_can_manage

pytestmark = pytest.mark.django_db

SOAK = os.environ.get("BATON_SOAK", "") not in ("", "0")
MACHINE_SETTINGS = settings(
    max_examples=300 if SOAK else 20,
    stateful_step_count=60 if SOAK else 20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
SLOTS = 3  # contacts; slot 2's handoffs are urgent (team defaults), the others normal (a policy)
PEOPLE = ("riley", "rob", "sam")  # two reps and the director, who leads Sales
REPS = ("riley", "rob")
K = HandoffEventKind
UPDATED, CREATED = EventType.HANDOFF_UPDATED.value, EventType.HANDOFF_CREATED.value

# Reached across examples, built once: the organisation the machine works in.
_ORG: dict[str, Any] = {}


@dataclass
class Expected:
    """What the model says one handoff is."""

    status: str = HandoffStatus.OPEN
    assignee: str | None = None
    events: list[str] = field(default_factory=lambda: [K.CREATED.value])
    log: list[str] = field(default_factory=lambda: [CREATED])


def snapshot(handoff_ids: list[int]) -> Any:
    """Every row a refused step could have touched."""
    return (
        list(Handoff.objects.filter(pk__in=handoff_ids).order_by("pk").values()),
        list(HandoffEvent.objects.filter(handoff_id__in=handoff_ids).values_list("id", flat=True)),
        Event.objects.count(),
    )


class HandoffLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.org = _ORG["org"]
        self.people = {name: self.org.users[name] for name in PEOPLE}
        self.team = self.org.teams["sales"]
        # Every example starts from the same organisation: its writes are rolled back.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.offset = timedelta(0)  # how far the sweep's clock has moved ahead of real time
        self.ids: dict[int, list[int]] = {slot: [] for slot in range(SLOTS)}  # oldest first
        self.expected: dict[int, Expected] = {}
        self.numbers = itertools.count()
        self.steps = 0
        self.refused = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        _ORG.setdefault("steps", []).append(self.steps)
        _ORG.setdefault("refused", []).append(self.refused)

    # --- helpers ----------------------------------------------------------------------------

    def current(self, slot: int) -> int | None:
        return self.ids[slot][-1] if self.ids[slot] else None

    def all_ids(self) -> list[int]:
        return [h for ids in self.ids.values() for h in ids]

    def refused_unchanged(self, call: Any) -> None:
        """A step the lifecycle forbids: Conflict, and not one row changed."""
        before = snapshot(self.all_ids())
        with pytest.raises(Conflict):
            call()
        assert snapshot(self.all_ids()) == before
        self.refused += 1

    def contact(self, slot: int) -> Any:
        return contact_upsert(
            external_id=f"life-{slot}",
            fields={"external_id": f"life-{slot}", "email": f"life-{slot}@example.com"},
        )

    # --- rules ----------------------------------------------------------------------------------

    @initialize()
    def policy(self) -> None:
        # Normal handoffs: a policy that reassigns a breach to the lead; urgent: team defaults
        # (15 minutes, notify the lead).
        SlaPolicy.objects.update_or_create(
            team=self.team,
            priority=Priority.NORMAL,
            defaults={
                "first_response_minutes": 10,
                "next_response_minutes": 20,
                "resolution_minutes": 60,
                "pause_while_waiting": True,
                "on_breach": BreachAction.REASSIGN_TO_LEAD,
                "alerts_in_business_hours": False,
            },
        )

    @rule(slot=st.integers(0, SLOTS - 1))
    def raise_(self, slot: int) -> None:
        self.steps += 1
        handoff, created = handoff_raise(
            request=RaiseRequest(
                contact=self.contact(slot),
                team=self.team,
                trigger="complexity",
                priority=Priority.URGENT if slot == 2 else Priority.NORMAL,
                reason="machine",
                evidence={"n": next(self.numbers)},
            )
        )
        active = self.current(slot)
        if active is not None and self.expected[active].status in ACTIVE_STATUSES:
            assert not created and handoff.pk == active
            self.expected[active].events.append(K.EVIDENCE_ADDED)
            self.expected[active].log.append(UPDATED)
        else:
            assert created
            self.ids[slot].append(handoff.pk)
            self.expected[handoff.pk] = Expected()

    @precondition(lambda self: any(self.ids.values()))
    @rule(data=st.data(), who=st.sampled_from(PEOPLE))
    def claim(self, data: st.DataObject, who: str) -> None:
        self.steps += 1
        handoff_id = data.draw(st.sampled_from(self.all_ids()), label="handoff")
        model = self.expected[handoff_id]
        call = lambda: handoff_claim(handoff_id=handoff_id, user=self.people[who])  # noqa: E731
        if model.status == HandoffStatus.OPEN:
            call()
            model.status, model.assignee = HandoffStatus.CLAIMED, who
            model.events.append(K.CLAIMED)
            model.log.append(UPDATED)
        elif model.assignee == who:
            before = snapshot(self.all_ids())
            call()  # claiming what you hold is a no-op
            assert snapshot(self.all_ids()) == before
        else:
            self.refused_unchanged(call)

    @precondition(lambda self: any(self.ids.values()))
    @rule(data=st.data(), who=st.sampled_from(PEOPLE))
    def release(self, data: st.DataObject, who: str) -> None:
        self.steps += 1
        handoff_id = data.draw(st.sampled_from(self.all_ids()), label="handoff")
        model = self.expected[handoff_id]
        user = self.people[who]
        lead = user_can_manage(user=user, team_id=self.team.pk)
        call = lambda: handoff_release(  # noqa: E731
            handoff_id=handoff_id, user=user, may_override=lead
        )
        allowed = model.status != HandoffStatus.RESOLVED and model.assignee is not None
        if allowed and (model.assignee == who or lead):
            call()
            model.status, model.assignee = HandoffStatus.OPEN, None
            model.events.append(K.RELEASED)
            model.log.append(UPDATED)
        else:
            self.refused_unchanged(call)

    @precondition(lambda self: any(self.ids.values()))
    @rule(data=st.data(), to=st.sampled_from(REPS))
    def reassign(self, data: st.DataObject, to: str) -> None:
        """The lead gives it to a rep (the views let only leads reassign)."""
        self.steps += 1
        handoff_id = data.draw(st.sampled_from(self.all_ids()), label="handoff")
        model = self.expected[handoff_id]
        call = lambda: handoff_reassign(  # noqa: E731
            handoff_id=handoff_id, user=self.people["sam"], assignee=self.people[to]
        )
        if model.status == HandoffStatus.RESOLVED:
            self.refused_unchanged(call)
            return
        call()
        if model.status == HandoffStatus.OPEN:
            model.status = HandoffStatus.CLAIMED
        model.assignee = to
        model.events.append(K.REASSIGNED)
        model.log.append(UPDATED)

    @precondition(lambda self: any(self.ids.values()))
    @rule(data=st.data(), who=st.sampled_from(PEOPLE))
    def reply(self, data: st.DataObject, who: str) -> None:
        """A person answers: the handoff waits on the contact."""
        self.steps += 1
        handoff_id = data.draw(st.sampled_from(self.all_ids()), label="handoff")
        model = self.expected[handoff_id]
        call = lambda: handoff_reply(  # noqa: E731
            handoff_id=handoff_id, user=self.people[who], body=f"Reply {next(self.numbers)}"
        )
        if model.status == HandoffStatus.RESOLVED or model.assignee not in (None, who):
            self.refused_unchanged(call)
            return
        call()
        if model.assignee is None:
            model.assignee = who
            model.events.append(K.CLAIMED)
        model.status = HandoffStatus.WAITING_ON_CONTACT
        model.events.append(K.REPLIED)
        model.log.append(UPDATED)

    @precondition(lambda self: any(self.ids.values()))
    @rule(slot=st.integers(0, SLOTS - 1))
    def contact_writes(self, slot: int) -> None:
        """The contact writes: wakes their active handoff, or reopens the last resolved one
        (every resolution here is within the team's 72-hour reopen window)."""
        self.steps += 1
        handoff_id = self.current(slot)
        if handoff_id is None:
            return
        n = next(self.numbers)
        received = message_receive(
            message=InboundMessage(
                contact={"external_id": f"life-{slot}"},
                account=None,
                channel="email",
                body=f"Thanks, that sounds good ({n})",
                external_id=f"life-in-{n}",
            )
        )
        assert not received.duplicate
        model = self.expected[handoff_id]
        if model.status == HandoffStatus.RESOLVED:
            model.status = HandoffStatus.CLAIMED if model.assignee else HandoffStatus.OPEN
            model.events.append(K.REOPENED)
        else:
            if model.status == HandoffStatus.WAITING_ON_CONTACT:
                model.status = HandoffStatus.CLAIMED
            model.events.append(K.CONTACT_REPLIED)
        model.log.append(UPDATED)

    @precondition(lambda self: any(self.ids.values()))
    @rule(data=st.data(), who=st.sampled_from(PEOPLE), resume=st.booleans())
    def resolve(self, data: st.DataObject, who: str, resume: bool) -> None:
        self.steps += 1
        handoff_id = data.draw(st.sampled_from(self.all_ids()), label="handoff")
        model = self.expected[handoff_id]
        user = self.people[who]
        lead = user_can_manage(user=user, team_id=self.team.pk)
        call = lambda: handoff_resolve(  # noqa: E731
            handoff_id=handoff_id,
            user=user,
            resolution="Done",
            resume_automation=resume,
            may_override=lead,
        )
        if model.status == HandoffStatus.RESOLVED or (
            model.assignee not in (None, who) and not lead
        ):
            self.refused_unchanged(call)
            return
        call()
        model.status = HandoffStatus.RESOLVED
        model.assignee = model.assignee or who
        model.events.append(K.RESOLVED)
        model.log.append(UPDATED)

    @rule(minutes=st.sampled_from([0, 3, 12, 25, 70]))
    def sla_sweep(self, minutes: int) -> None:
        """The clock moves on and the sweep runs: every active, unbreached handoff whose running
        due time has passed is flagged once and escalated per its terms."""
        self.steps += 1
        self.offset += timedelta(minutes=minutes)
        now = timezone.now() + self.offset
        due = {
            h.pk: h
            for h in Handoff.objects.filter(
                pk__in=self.all_ids(), status__in=ACTIVE_STATUSES, breached=False
            )
            if h.sla_clock is not None and h.sla_clock.due <= now
        }
        result = handoffs_sla_sweep(now=now)
        assert result.breached == len(due)
        for handoff_id, before in due.items():
            model = self.expected[handoff_id]
            model.events.append(K.BREACHED)
            if before.priority == Priority.NORMAL and model.assignee != "sam":
                model.events.append(K.REASSIGNED)  # the policy gives it to the lead
                model.assignee = "sam"
                if model.status == HandoffStatus.OPEN:
                    model.status = HandoffStatus.CLAIMED
            model.events.append(K.ESCALATED)
            model.log.append(UPDATED)
        flagged = Handoff.objects.filter(pk__in=list(due))
        assert all(h.breached_at == now and h.escalated for h in flagged)
        assert not [
            h.pk
            for h in Handoff.objects.filter(
                pk__in=self.all_ids(), status__in=ACTIVE_STATUSES, breached=False
            )
            if h.sla_clock is not None and h.sla_clock.due <= now
        ]

    # --- invariants -----------------------------------------------------------------------------

    @invariant()
    def one_active_handoff_per_contact(self) -> None:
        for slot, ids in self.ids.items():
            active = Handoff.objects.filter(pk__in=ids, status__in=ACTIVE_STATUSES).count()
            assert active <= 1, f"contact {slot} has {active} active handoffs"

    @invariant()
    def rows_match_the_model(self) -> None:
        names = {user.pk: name for name, user in self.people.items()}
        for handoff in Handoff.objects.filter(pk__in=self.all_ids()):
            model = self.expected[handoff.pk]
            assert handoff.status == model.status
            assert names.get(handoff.assignee_id) == model.assignee
            # Status and owner agree.
            if handoff.status == HandoffStatus.OPEN:
                assert handoff.assignee_id is None and handoff.claimed_at is None
            elif handoff.status in (HandoffStatus.CLAIMED, HandoffStatus.WAITING_ON_CONTACT):
                assert handoff.assignee_id is not None and handoff.claimed_at is not None
            assert (handoff.resolved_at is not None) == (handoff.status == HandoffStatus.RESOLVED)
            if handoff.status == HandoffStatus.WAITING_ON_CONTACT:
                assert handoff.first_responded_at is not None

    @invariant()
    def events_match_the_transitions(self) -> None:
        ids = self.all_ids()
        events: dict[int, list[str]] = {h: [] for h in ids}
        for handoff_id, kind in (
            HandoffEvent.objects.filter(handoff_id__in=ids)
            .order_by("id")
            .values_list("handoff_id", "kind")
        ):
            events[handoff_id].append(kind)
        logged: dict[int, list[Any]] = {h: [] for h in ids}
        for handoff_id, kind, payload in (
            Event.objects.filter(handoff_id__in=ids)
            .order_by("id")
            .values_list("handoff_id", "type", "payload")
        ):
            logged[handoff_id].append((kind, payload))
        rows = {h.pk: h for h in Handoff.objects.filter(pk__in=ids)}
        for handoff_id in ids:
            assert events[handoff_id] == self.expected[handoff_id].events, handoff_id
            assert [k for k, _ in logged[handoff_id]] == self.expected[handoff_id].log
            latest = logged[handoff_id][-1][1]  # the log's last word is the handoff as stored
            assert latest["status"] == rows[handoff_id].status
            assert (latest["assignee"] or {}).get("id") == rows[handoff_id].assignee_id

    @invariant()
    def sla_fields_agree(self) -> None:
        for handoff in Handoff.objects.filter(pk__in=self.all_ids()):
            assert handoff.breached == (handoff.breached_at is not None)
            assert handoff.breached == bool(handoff.breached_target)
            assert not handoff.escalated or handoff.breached
            if handoff.status in ACTIVE_STATUSES:
                clock = handoff.sla_clock
                assert handoff.sla_due_at == (clock.due if clock else None)
            if handoff.sla_paused_at is not None:
                assert handoff.first_responded_at is not None  # only a reply pauses it
            assert handoff.sla_started_at <= handoff.first_response_due_at


def test_the_handoff_lifecycle_holds_its_invariants_under_any_sequence_of_steps() -> None:
    _ORG.clear()
    _ORG["org"] = build_org()
    run_state_machine_as_test(HandoffLifecycle, settings=MACHINE_SETTINGS)
    steps: list[int] = _ORG["steps"]
    refused: list[int] = _ORG["refused"]
    print(
        f"\nlifecycle machine: {len(steps)} examples, {sum(steps)} steps "
        f"(longest {max(steps)}), {sum(refused)} refused transitions checked unchanged"
    )
    assert sum(refused) > 0  # the illegal paths were exercised
