"""The demo's guardrails (docs/governance.md) and a few contacts that show them at work.
Both are idempotent: rules are found by name, sample contacts by external id.

`seed_policies()`: ≤ 3 automated emails a week (defer), ≤ 1 automated SMS a day (suppress),
quiet hours 21:00–08:00 in the contact's zone (defer), banned pressure phrases, the disclosure
the demo journeys already carry (so nothing is signed twice), and promises held for approval.

`seed_policy_samples()`: through the real engine, a deferred email (the weekly cap), a
suppressed SMS (the daily cap), an email waiting for the contact's morning (quiet hours) and a
discount offer held for the Sales team's approval. Sample contacts' time zones are picked at
seed time so each sample shows its rule whenever the demo is loaded.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from governance.policies.choices import ExpiryAction, PolicyAction, ToneKind, WindowUnit
from governance.policies.models import FrequencyCap, QuietHours, ToneRule
from handoffs.choices import OutboxStatus
from handoffs.models import Message, OutboxEntry
from handoffs.services import conversation_for
from journeys.choices import LoopStage
from journeys.engine import journey_publish
from journeys.ingestion import body_hash, signal_ingest_batch
from journeys.models import Contact, Journey, Stage, Step
from journeys.services import contact_upsert
from portal.models import Team

DISCLOSURE = "— Baton assistant (automated message)"  # what the demo journeys append

CAPS: list[dict[str, Any]] = [
    {
        "name": "Automated email: at most 3 a week",
        "limit": 3,
        "window_amount": 7,
        "window_unit": WindowUnit.DAYS,
        "channels": ["email"],
        "action": PolicyAction.DEFER,
    },
    {
        "name": "Automated SMS: at most 1 a day",
        "limit": 1,
        "window_amount": 1,
        "window_unit": WindowUnit.DAYS,
        "channels": ["sms"],
        "action": PolicyAction.SUPPRESS,
    },
]
QUIET: list[dict[str, Any]] = [
    {
        "name": "Quiet hours 21:00–08:00",
        "starts": time(21),
        "ends": time(8),
        "action": PolicyAction.DEFER,
    }
]
TONE: list[dict[str, Any]] = [
    {
        "name": "No pressure selling",
        "kind": ToneKind.BANNED,
        "phrases": "act now\nlimited time offer\nlast chance\ndon't miss out",
    },
    {
        "name": "Automated messages say so",
        "kind": ToneKind.DISCLOSURE,
        "phrases": f"{DISCLOSURE}\nBaton assistant (automated message)\nI'm the Baton assistant",
    },
    {
        "name": "No promises without a person",
        "kind": ToneKind.PROMISE,
        "promise_kinds": [],  # every detector: prices, discounts, dates, features
        "approval_expires_minutes": 24 * 60,
        "expiry_action": ExpiryAction.REJECT,
    },
]


@transaction.atomic
def seed_policies() -> None:
    for spec in CAPS:
        FrequencyCap.objects.get_or_create(name=spec["name"], defaults=spec)
    for spec in QUIET:
        QuietHours.objects.get_or_create(name=spec["name"], defaults=spec)
    for spec in TONE:
        ToneRule.objects.get_or_create(name=spec["name"], defaults=spec)


# Real places, one per few hours of offset: a sample contact lives where its rule shows now.
PLACES = [
    "Pacific/Honolulu",
    "America/Los_Angeles",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Athens",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
]


def _place(now: datetime, *, night: bool) -> str:
    """A zone where it is mid-day (10–17) now, or deep night (23–05)."""
    for name in PLACES:
        hour = now.astimezone(ZoneInfo(name)).hour
        if (night and (hour >= 23 or hour < 5)) or (not night and 10 <= hour < 17):
            return name
    return "Europe/London"


OFFER = (
    "Hi {contact.first_name}, your team has outgrown its plan. Upgrade this month and we'll "
    "take 20% off your first year."
)


def seed_policy_samples() -> None:
    """Four contacts whose touches governance stopped, each for a different rule."""
    if Contact.objects.filter(external_id="c-demo-cap-email").exists():
        return
    now = timezone.now()
    day, night = _place(now, night=False), _place(now, night=True)
    _offer_journey()
    # Three emails this week already (another team's campaign): the welcome waits.
    busy = contact_upsert(
        external_id="c-demo-cap-email",
        fields={"name": "Edith Clarke", "email": "edith@example.com", "timezone": day},
    )
    for days_ago in (6, 3, 1):
        _earlier(busy, "email", now - timedelta(days=days_ago, hours=2), "Our product newsletter")
    # An SMS today already: the next one is suppressed, not queued.
    texted = contact_upsert(
        external_id="c-demo-cap-sms",
        fields={"name": "Hedy Lamarr", "phone": "+447700900202", "timezone": day},
    )
    _earlier(texted, "sms", now - timedelta(hours=3), "Your webinar starts in an hour")
    # Journeys with a team, so the team sees these contacts: a trial's welcome email (Success),
    # an expansion offer by SMS (Sales), and Sales' upgrade offer.
    signals = [
        _signal("demo-cap-email", "trial_started", {"external_id": "c-demo-cap-email"}),
        _signal(
            "demo-cap-sms",
            "usage_spike",
            {"external_id": "c-demo-cap-sms"},
            properties={"seats_used": 19, "seats": 20},
        ),
        _signal(
            "demo-quiet",
            "trial_started",
            {
                "external_id": "c-demo-quiet",
                "name": "Ada Yonath",
                "email": "ada.y@example.com",
                "timezone": night,
            },
        ),
        _signal(
            "demo-offer",
            "upgrade_eligible",
            {
                "external_id": "c-demo-offer",
                "name": "Barbara Liskov",
                "email": "barbara@example.com",
                "timezone": day,
            },
            account={"external_id": "clu", "name": "CLU Labs"},
        ),
    ]
    for index, raw in enumerate(signals):  # one by one, as they would arrive
        signal_ingest_batch(api_key=None, items=[(index, raw, body_hash(raw))])


def _signal(key: str, type_: str, contact: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": type_, "idempotency_key": key, "contact": contact, **extra}


def _earlier(contact: Contact, channel: str, at: datetime, body: str) -> None:
    """An automated touch sent before the demo began (history for the caps to count)."""
    message = Message.objects.create(
        conversation=conversation_for(contact),
        direction="out",
        channel=channel,
        body=f"{body}\n\n{DISCLOSURE}",
        automated=True,
    )
    OutboxEntry.objects.create(
        message=message,
        channel=channel,
        to_address=contact.email or contact.phone,
        status=OutboxStatus.SENT,
        attempts=1,
        next_attempt_at=at,
        sent_at=at,
        backend="demo",
    )
    Message.objects.filter(pk=message.pk).update(created_at=at)


def _offer_journey() -> None:
    """Sales' upgrade offer: a discount, so a person approves it before it goes."""
    journey, created = Journey.objects.get_or_create(
        slug="upgrade-offer",
        defaults={
            "name": "Upgrade offer",
            "enroll_on_signal_type": "upgrade_eligible",
            "description": "An account that outgrew its plan is offered an upgrade; the "
            "discount needs a person's approval (tone rules).",
        },
    )
    if not created:
        return
    sales = Team.objects.filter(slug="sales").first()
    stage = Stage.objects.create(
        journey=journey, name="Upgrade", loop_stage=LoopStage.EXPAND, order=0
    )
    steps = [
        ("offer", "send_message", {"channel": "email", "template": OFFER}, sales),
        (
            "wait_reply",
            "wait",
            {"until": "reply", "minutes": 5 * 24 * 60, "on_event": "done", "on_timeout": "done"},
            None,
        ),
        ("done", "end", {"outcome": "completed"}, None),
    ]
    for order, (key, kind, config, team) in enumerate(steps):
        Step.objects.create(
            journey=journey,
            stage=stage,
            key=key,
            order=order,
            kind=kind,
            config=config,
            mode="automation",
            team=team,
        )
    journey_publish(journey=journey)
