"""Shared helpers for the governance wiring tests (no tests here): journeys built the way ops
build them, contacts arriving the way integrations send them, earlier touches on record, and a
time zone where it is night right now (so quiet hours apply without freezing the clock)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from conftest import key_client
from governance.policies.models import FrequencyCap, QuietHours, ToneRule
from handoffs.models import Conversation, Message, OutboxEntry
from journeys.choices import LoopStage
from journeys.engine import enrollments_due_sweep, journey_publish
from journeys.models import Contact, Enrollment, Journey, Stage, Step

DISCLOSURE = "— Baton assistant (automated message)"


def nurture(
    *,
    channel: str = "email",
    nudge: str = "Just checking in: any questions?",
    team: Any = None,
    slug: str = "nurture",
) -> Journey:
    """Flow 4: a welcome, three days' wait for a reply, then the nudge. `team` owns a human step
    at the end (so the touches are that team's)."""
    journey = Journey.objects.create(
        name="Nurture", slug=slug, enroll_on_signal_type="trial_started"
    )
    stage = Stage.objects.create(journey=journey, name="Nurture", loop_stage=LoopStage.ACQUIRE)
    steps: list[tuple[str, str, dict[str, Any], Any]] = [
        ("intro", "send_message", {"channel": channel, "template": "Welcome aboard!"}, None),
        (
            "wait_reply",
            "wait",
            {"until": "reply", "minutes": 4320, "on_event": "done", "on_timeout": "nudge"},
            None,
        ),
        ("nudge", "send_message", {"channel": channel, "template": nudge}, None),
    ]
    if team is not None:
        steps.append(
            (
                "call",
                "handoff",
                {"team": team.slug, "priority": "normal", "trigger": "stage", "reason": "Call"},
                team,
            )
        )
    steps.append(("done", "end", {"outcome": "completed"}, None))
    for order, (key, kind, config, owner) in enumerate(steps):
        Step.objects.create(
            journey=journey, stage=stage, key=key, order=order, kind=kind, config=config, team=owner
        )
    journey_publish(journey=journey)
    return journey


def arrive(api_key: str, external_id: str = "t-1", zone: str = "Europe/London") -> Contact:
    body = {
        "type": "trial_started",
        "contact": {
            "external_id": external_id,
            "name": "Tess Trial",
            "email": f"{external_id}@example.com",
            "phone": "+447700900777",
            "timezone": zone,
        },
    }
    assert key_client(api_key).post("/api/v1/signals/", body, format="json").status_code == 202
    return Contact.objects.get(external_id=external_id)


def three_days_pass() -> None:
    """The wait is over: its due time is now, and the sweep runs."""
    Enrollment.objects.filter(due_at__isnull=False).update(
        due_at=timezone.now() - timedelta(seconds=1)
    )
    enrollments_due_sweep()


def earlier_touch(contact: Contact, channel: str, at: datetime, body: str = "Earlier") -> Message:
    """An automated touch already sent to the contact (by any team)."""
    conversation, _ = Conversation.objects.get_or_create(contact=contact)
    message = Message.objects.create(
        conversation=conversation, direction="out", channel=channel, body=body, automated=True
    )
    OutboxEntry.objects.create(
        message=message,
        channel=channel,
        to_address="x",
        status="sent",
        next_attempt_at=at,
        sent_at=at,
        attempts=1,
    )
    return message


def bodies(contact: Contact) -> list[str]:
    return [
        b.split("\n")[0]
        for b in Message.objects.filter(conversation__contact=contact, direction="out")
        .order_by("id")
        .values_list("body", flat=True)
    ]


def night_zone(now: datetime | None = None) -> tuple[str, datetime]:
    """A fixed-offset zone where it is between 21:00 and 07:00 now, and the next 08:00 there."""
    now = now or timezone.now()
    for hours in range(-12, 15):
        name = f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}" if hours else "Etc/GMT"
        local = now.astimezone(ZoneInfo(name))
        if local.hour >= 21 or local.hour < 7:
            day = local.date() + timedelta(days=1 if local.hour >= 21 else 0)
            return name, datetime.combine(day, time(8), tzinfo=ZoneInfo(name))
    raise AssertionError("some zone is always at night")


def day_zone(now: datetime | None = None) -> str:
    """A fixed-offset zone where it is between 10:00 and 18:00 now."""
    now = now or timezone.now()
    for hours in range(-12, 15):
        name = f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}" if hours else "Etc/GMT"
        if 10 <= now.astimezone(ZoneInfo(name)).hour < 18:
            return name
    raise AssertionError("some zone is always in the day")


def cap(**fields: Any) -> FrequencyCap:
    defaults: dict[str, Any] = {
        "name": "Automated email: 3 per 7 days",
        "limit": 3,
        "window_amount": 7,
        "window_unit": "days",
        "channels": ["email"],
        "action": "defer",
    }
    return FrequencyCap.objects.create(**{**defaults, **fields})


def quiet(**fields: Any) -> QuietHours:
    defaults: dict[str, Any] = {
        "name": "Evenings and nights",
        "starts": time(21),
        "ends": time(8),
        "action": "defer",
    }
    return QuietHours.objects.create(**{**defaults, **fields})


def tone_rule(**fields: Any) -> ToneRule:
    return ToneRule.objects.create(**fields)
