"""Fault 5 of issue 8: the sweepers killed mid-sweep and run twice at once, on the real stack —
`celery beat` sending the sweeps every second and `celery worker` processes running them on
PostgreSQL and Redis. Every breach is flagged exactly once, escalated (event and alert email)
exactly once, every waiting handoff auto-assigned once and every due outbox entry sent once.

CI: 2,000 overdue handoffs (200 alerting), two kills, 60 waiting handoffs and 60 outbox entries;
BATON_SOAK=1: 20,000 (5,000 alerting), five kills, 1,000 and 1,000."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import time as clock_time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from handoffs.choices import Channel, Direction, HandoffEventKind, OutboxStatus
from handoffs.models import Conversation, Handoff, HandoffEvent, Message, OutboxEntry
from handoffs.tests.fault_support import FaultStack, Proc, fault_stack, soak_or, wait_until
from journeys.models import Contact
from portal.choices import AssignmentMode
from portal.models import Availability
from portal.services import availability_set_hours, availability_set_status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

OVERDUE = soak_or(2000, 20000)
KILLS = soak_or(2, 5)
WAITING = soak_or(60, 1000)  # for the assignment sweep
OUTBOX = soak_or(60, 1000)  # for the outbox sweep
ALERTED_EVERY = soak_or(10, 4)  # every n-th overdue handoff is in Sales and alerts its lead
DRAIN_SECONDS = soak_or(300, 1800)
KINDS = (
    HandoffEventKind.BREACHED,
    HandoffEventKind.ESCALATED,
    HandoffEventKind.ESCALATION_FAILED,
)
ALERT = re.compile(r"on handoff #(\d+) for ")
FLAGGED = re.compile(r"sla_sweep\[[^\]]+\] succeeded in \S+: (\d+)")


def _handoffs(org: Any, teams: list[str], *, due_in: timedelta, tag: str) -> list[int]:
    """Open handoffs, one per entry of `teams`, in that order (bulk rows: raising 2,000 one by
    one would be most of the test)."""
    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        Contact(external_id=f"{tag}-{i}", name=f"{tag.title()} {i}", email=f"{tag}{i}@example.com")
        for i in range(len(teams))
    )
    rows = Handoff.objects.bulk_create(
        Handoff(
            team=org.teams[team],
            contact=contact,
            trigger="complexity",
            reason="A question nobody answered",
            priority="normal",
            created_at=now - timedelta(hours=1),
            sla_started_at=now - timedelta(hours=1),
            first_response_due_at=now + due_in,
            sla_due_at=now + due_in,
        )
        for team, contact in zip(teams, contacts, strict=True)
    )
    return [h.pk for h in rows]


def _overdue(org: Any) -> tuple[list[int], list[int]]:
    """Overdue handoffs, all due at one moment (so the sweep takes them in id order). Every
    ALERTED_EVERY-th is in Sales (open 24/7, no policy: notify the lead now — Sam, its director,
    leads it and gets an alert email each); the rest are in Marketing, which has nobody to
    escalate to (a *Could not escalate* event each, no email). Every batch holds both."""
    org.users["sam"].email = "sam@example.com"
    org.users["sam"].save(update_fields=["email"])
    teams = ["sales" if i % ALERTED_EVERY == 0 else "marketing" for i in range(OVERDUE)]
    ids = _handoffs(org, teams, due_in=timedelta(minutes=-5), tag="late")
    alerted = [h for h, team in zip(ids, teams, strict=True) if team == "sales"]
    return alerted, [h for h, team in zip(ids, teams, strict=True) if team == "marketing"]


def _waiting(org: Any) -> list[int]:
    """Waiting in Support, which auto-assigns round robin to three reps on duty all day."""
    from portal.choices import Role
    from portal.services import membership_set

    support = org.teams["support"]
    for name in ("riley", "rob", "casey"):
        user = org.users[name]
        membership_set(user=user, team=support, role=Role.REP)
        availability_set_hours(
            user=user,
            time_zone="UTC",
            periods=[(d, clock_time(0), clock_time(0)) for d in range(7)],
        )
        availability_set_status(user=user, status="available")
        Availability.objects.filter(user=user).update(capacity=WAITING)
    ids = _handoffs(org, ["support"] * WAITING, due_in=timedelta(days=1), tag="wait")
    support.assignment_mode = AssignmentMode.ROUND_ROBIN
    support.save(update_fields=["assignment_mode"])
    return ids


def _outbox(org: Any, handoff_ids: list[int]) -> list[int]:
    """Due outbox entries whose tasks were never sent: only the sweep delivers them."""
    handoffs = list(Handoff.objects.filter(pk__in=handoff_ids[:OUTBOX]).select_related("contact"))
    conversations = Conversation.objects.bulk_create(
        Conversation(contact=h.contact) for h in handoffs
    )
    messages = Message.objects.bulk_create(
        Message(
            conversation=c,
            handoff=h,
            direction=Direction.OUT,
            channel=Channel.EMAIL,
            body=f"Swept reply {h.pk}",
            author=org.users["sam"],
        )
        for c, h in zip(conversations, handoffs, strict=True)
    )
    now = timezone.now()
    entries = OutboxEntry.objects.bulk_create(
        OutboxEntry(
            message=m, channel=Channel.EMAIL, to_address=h.contact.email, next_attempt_at=now
        )
        for m, h in zip(messages, handoffs, strict=True)
    )
    return [e.pk for e in entries]


def _alerts(stack: FaultStack) -> Counter[int]:
    """Escalation emails written by the workers, per handoff."""
    counts: Counter[int] = Counter()
    if stack.mail_dir.exists():
        for path in stack.mail_dir.iterdir():
            counts.update(int(m) for m in ALERT.findall(path.read_text(errors="replace")))
    return counts


def _breached() -> int:
    return Handoff.objects.filter(breached=True).count()


def _drain(stack: FaultStack, alerted: list[int], unled: list[int], what: str) -> None:
    def done() -> bool:
        escalated = Handoff.objects.filter(pk__in=alerted, breached=True, escalated=True)
        failed = HandoffEvent.objects.filter(
            handoff_id__in=unled, kind=HandoffEventKind.ESCALATION_FAILED
        )
        return (
            escalated.count() == len(alerted)
            and failed.values("handoff_id").distinct().count() == len(unled)
            and set(_alerts(stack)) >= set(alerted)
        )

    wait_until(f"{what}: every breach flagged, escalated and alerted", done, DRAIN_SECONDS, every=1)


def _assert_exactly_once(stack: FaultStack, alerted: list[int], unled: list[int]) -> dict[str, int]:
    """Per handoff: one *SLA breached* event; in Sales one *Escalated* event and one email, in
    Marketing one *Could not escalate* event."""
    events = Counter(
        HandoffEvent.objects.filter(handoff_id__in=[*alerted, *unled]).values_list(
            "handoff_id", "kind"
        )
    )
    alerts = _alerts(stack)
    expected = {
        **{(h, HandoffEventKind.BREACHED): 1 for h in [*alerted, *unled]},
        **{(h, HandoffEventKind.ESCALATED): 1 for h in alerted},
        **{(h, HandoffEventKind.ESCALATION_FAILED): 1 for h in unled},
    }
    actual = {key: events[key] for key in expected}
    wrong = {key: n for key, n in actual.items() if n != 1}
    extra = {key: n for key, n in events.items() if key not in expected and key[1] in KINDS}
    figures = {
        "overdue": len(alerted) + len(unled),
        "escalated": len(alerted),
        "double_breaches": sum(1 for (_, k), n in wrong.items() if k == "breached" and n > 1),
        "missed_breaches": sum(1 for (_, k), n in wrong.items() if k == "breached" and n == 0),
        "double_escalations": sum(1 for (_, k), n in wrong.items() if k != "breached" and n > 1)
        + len(extra),
        "missed_escalations": sum(1 for (_, k), n in wrong.items() if k != "breached" and n == 0),
        "double_alerts": sum(1 for h in alerted if alerts[h] > 1),
        "missed_alerts": sum(1 for h in alerted if alerts[h] == 0),
        "stray_alerts": sum(n for h, n in alerts.items() if h not in set(alerted)),
    }
    print(f"SLA figures: {figures}")
    sizes = {"overdue": len(alerted) + len(unled), "escalated": len(alerted)}
    assert figures == {**dict.fromkeys(figures, 0), **sizes}, (wrong, extra)
    return figures


def _assert_assigned_once(waiting: list[int]) -> None:
    claims = Counter(
        HandoffEvent.objects.filter(
            handoff_id__in=waiting, kind=HandoffEventKind.CLAIMED
        ).values_list("handoff_id", flat=True)
    )
    assert not Handoff.objects.filter(pk__in=waiting, assignee=None).exists()
    assert [h for h in waiting if claims[h] != 1] == []


def _kill_and_restart(stack: FaultStack, worker: Proc, beat: Proc) -> None:
    """SIGKILL the worker running the sweep and beat together, then start both again (beat
    first: the worker takes the sweeps queued meanwhile as soon as it is up)."""
    worker.kill9()
    beat.kill9()
    stack.restart(beat)
    stack.restart(worker)


def test_a_sweeper_killed_mid_sweep_and_restarted_flags_and_escalates_each_breach_once(
    org: Any,
) -> None:
    alerted, unled = _overdue(org)
    overdue = len(alerted) + len(unled)
    waiting = _waiting(org)
    with fault_stack("sweeper-kill") as stack:
        worker, beat = stack.worker(), stack.beat()
        killed_at: list[int] = []
        for k in range(KILLS):
            last = killed_at[-1] if killed_at else 0

            def mid_sweep(last: int = last) -> int | None:
                """Breaches flagged once the sweep has committed a batch since the last
                restart, and before it has flagged them all."""
                flagged = _breached()
                return flagged if last < flagged < overdue else None

            killed_at.append(wait_until(f"sweep {k + 1} under way", mid_sweep, 120, every=0.02))
            _kill_and_restart(stack, worker, beat)
        assert len(killed_at) == KILLS
        _drain(stack, alerted, unled, "after the kills")
        wait_until(
            "every waiting handoff auto-assigned",
            lambda: not Handoff.objects.filter(pk__in=waiting, assignee=None).exists(),
            DRAIN_SECONDS,
            every=1,
        )
        time.sleep(3)  # a few more beats: a late duplicate would show now
        figures = _assert_exactly_once(stack, alerted, unled)
        _assert_assigned_once(waiting)
        print(f"kills: {KILLS} (breaches flagged at each: {killed_at}), {figures}")


def test_two_sweepers_at_once_never_double_escalate_assign_or_send(org: Any) -> None:
    with fault_stack("sweeper-two") as stack:
        workers = [stack.worker("worker-a"), stack.worker("worker-b")]
        beats = [stack.beat("beat-a"), stack.beat("beat-b")]
        # Due only now that both are idle and both beats send a sweep each second: the two
        # workers take one each and run them side by side.
        alerted, unled = _overdue(org)
        _drain(stack, alerted, unled, "two sweepers")
        waiting = _waiting(org)
        entries = _outbox(org, waiting)
        wait_until(
            "every waiting handoff auto-assigned and every entry sent",
            lambda: (
                not Handoff.objects.filter(pk__in=waiting, assignee=None).exists()
                and OutboxEntry.objects.filter(pk__in=entries, status=OutboxStatus.SENT).count()
                == len(entries)
            ),
            DRAIN_SECONDS,
            every=1,
        )
        time.sleep(3)  # a few more beats: a late duplicate would show now
        for proc in (*beats, *workers):
            proc.stop()
        # What each worker's sweeps flagged. One sweep alone takes every row (50 batches of
        # 200), so both flagging some means they ran at once; between them, each breach once.
        flagged = [sum(int(n) for n in FLAGGED.findall(w.log())) for w in workers]
        assert all(flagged) and sum(flagged) == len(alerted) + len(unled), flagged
        figures = _assert_exactly_once(stack, alerted, unled)
        _assert_assigned_once(waiting)
        sends = Counter(
            line.split(": ", 1)[1]
            for w in workers
            for line in w.log().splitlines()
            if "local email to " in line and "Swept reply" in line
        )
        sent = list(OutboxEntry.objects.filter(pk__in=entries).values_list("status", "attempts"))
        assert sent == [(OutboxStatus.SENT, 1)] * len(entries)
        assert len(sends) == len(entries) and set(sends.values()) == {1}
        print(f"two sweepers: breaches flagged per worker {flagged}, {figures}, sent {len(sends)}")
