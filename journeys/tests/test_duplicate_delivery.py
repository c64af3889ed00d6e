"""Issue 8, concurrency 3: the same signal or message delivered 2, 3 and 5 times at once over
HTTP to a real uvicorn (`--workers 2`, production settings) with a real Celery worker delivering
the outbox → exactly one effect: one stored signal or message, one enrollment, one handoff, one
send; the other deliveries answer as the docs say duplicates answer, never a 5xx.

| endpoint | idempotency | a duplicate's answer (docs/api.md, docs/integrations.md) |
|---|---|---|
| `POST /api/v1/signals/` | `idempotency_key` | `202`, the first id, `"duplicate": true` |
| `POST /api/v1/signals/batch/` | each item's key | `202`, counted in `duplicates` |
| Segment `POST /v1/track` | `messageId` | `200`, counted in `duplicates` |
| `POST /api/v1/hooks/<slug>/` | `X-Baton-Delivery` | `409` |
| Twilio `POST /api/v1/integrations/twilio/` | `MessageSid` | `200` TwiML |
| `POST /api/v1/messages/inbound/` | `external_id` | `202`, the first id, `"duplicate": true` |

A signal's effect comes from the "Trial" journey below: enrolling sends a welcome SMS (through
the outbox and the worker) and hands the contact to Sales. A message's effect is waking the
handoff that waits on the contact (one `contact_replied` event)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from conftest import Org
from handoffs.choices import Direction, HandoffEventKind, HandoffStatus, OutboxStatus
from handoffs.models import Handoff, HandoffEvent, Message, OutboxEntry
from handoffs.services import RaiseRequest, handoff_raise, handoff_reply
from handoffs.tests import live_support as live
from journeys.choices import LoopStage
from journeys.engine import journey_publish
from journeys.models import Contact, Enrollment, Journey, Signal, Stage, Step
from journeys.services import contact_upsert
from portal.integrations import signing
from portal.integrations.models import InboundWebhook
from portal.integrations.services import inbound_webhook_create
from portal.services import api_key_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

COPIES = (2, 3, 5)  # one delivery per round, sent this many times at once
WELCOME = "Welcome to your trial"


@pytest.fixture(scope="module")
def module_stack(
    django_db_setup: Any, django_db_blocker: Any
) -> Iterator[tuple[live.Server, live.Worker]]:
    """One server and worker for the module: API keys, signatures and the outbox hold no
    per-process cache the flush between tests would make stale (people's pages would)."""
    with django_db_blocker.unblock(), live.live(worker=True) as (server, worker):
        assert worker is not None
        yield server, worker


@pytest.fixture
def stack(
    module_stack: tuple[live.Server, live.Worker], transactional_db: Any
) -> Iterator[live.Server]:
    """The module's server; once the test is over, its worker is left idle before the
    database is flushed."""
    server, worker = module_stack
    try:
        yield server
    finally:
        live.wait_idle(worker)


@pytest.fixture
def trial(org: Org) -> Journey:
    journey = Journey.objects.create(
        name="Trial", slug="trial", enroll_on_signal_type="trial_started"
    )
    stage = Stage.objects.create(journey=journey, name="Trial", loop_stage=LoopStage.ACQUIRE)
    steps = [
        ("welcome", "send_message", {"channel": "sms", "template": WELCOME}),
        (
            "call",
            "handoff",
            {"team": "sales", "priority": "normal", "trigger": "qualification", "reason": "Call"},
        ),
        ("done", "end", {"outcome": "completed"}),
    ]
    for order, (key, kind, config) in enumerate(steps):
        Step.objects.create(
            journey=journey,
            stage=stage,
            key=key,
            order=order,
            kind=kind,
            config=config,
            team=org.teams["sales"] if kind == "handoff" else None,
        )
    journey_publish(journey=journey)
    return journey


@pytest.fixture
def key(org: Org) -> str:
    return api_key_create(name="duplicate delivery")[1]


def contact_json(external_id: str) -> dict[str, str]:
    return {"external_id": external_id, "name": "Dee Dupe", "phone": phone_for(external_id)}


def phone_for(external_id: str) -> str:
    return f"+4477009{sum(external_id.encode()) % 100000:05d}"


def signal(external_id: str) -> dict[str, Any]:
    return {
        "type": "trial_started",
        "occurred_at": "2026-11-21T10:00:00Z",
        "contact": contact_json(external_id),
        "properties": {"plan": "pro"},
        "idempotency_key": f"trial-{external_id}",
    }


def at_once(server: live.Server, requests: list[dict[str, Any]]) -> list[live.Answer]:
    """POST every request at the same moment (one connection each)."""

    async def go() -> list[live.Answer]:
        async with live.http_client(server.url, len(requests)) as client:
            return await asyncio.gather(*(live.post(client, **r) for r in requests))

    return live.run(go())


def no_server_errors(server: live.Server, answers: list[live.Answer]) -> None:
    assert all(a.status < 500 for a in answers), [(a.status, a.body[:300]) for a in answers]
    assert server.server_errors() == []


def one_effect_of_a_signal(external_id: str) -> None:
    """One signal, one enrollment, one welcome sent once by the worker, one handoff (the
    journey's first steps run in the worker after the signal's commit)."""
    contact = Contact.objects.get(external_id=external_id)
    assert Signal.objects.filter(contact=contact).count() == 1
    assert Enrollment.objects.filter(contact=contact).count() == 1
    deadline = time.monotonic() + 60
    while not Handoff.objects.filter(contact=contact).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Handoff.objects.filter(contact=contact).count() == 1
    out = Message.objects.filter(conversation__contact=contact, direction=Direction.OUT)
    assert [m.body.startswith(WELCOME) for m in out] == [True]
    entry = OutboxEntry.objects.get(message=out[0])
    while entry.status != OutboxStatus.SENT and time.monotonic() < deadline:
        time.sleep(0.2)
        entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (OutboxStatus.SENT, 1)


def test_a_signal_delivered_several_times_at_once_is_stored_and_acted_on_once(
    stack: live.Server, trial: Journey, key: str
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    for copies in COPIES:
        external_id = f"sig-{copies}"
        request = {"path": "/api/v1/signals/", "json_body": signal(external_id), "headers": auth}
        answers = at_once(stack, [request] * copies)

        no_server_errors(stack, answers)
        assert [a.status for a in answers] == [202] * copies
        bodies = [a.json() for a in answers]
        assert sorted(b["duplicate"] for b in bodies) == [False] + [True] * (copies - 1)
        assert {b["id"] for b in bodies} == {
            str(Signal.objects.get(contact__external_id=external_id).pk)
        }
        one_effect_of_a_signal(external_id)


def test_overlapping_batches_at_once_store_each_signal_once(
    stack: live.Server, trial: Journey, key: str
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    a, b, c = (signal(f"batch-{x}") for x in "abc")
    batches = [[a, b], [b, c], [a, b, c], [c, a]]
    answers = at_once(
        stack,
        [
            {"path": "/api/v1/signals/batch/", "json_body": {"signals": s}, "headers": auth}
            for s in batches
        ],
    )

    no_server_errors(stack, answers)
    assert [x.status for x in answers] == [202] * len(batches)
    bodies = [x.json() for x in answers]
    for body, sent in zip(bodies, batches, strict=True):
        assert body["errors"] == []
        assert body["accepted"] + body["duplicates"] == len(sent)
    assert sum(body["accepted"] for body in bodies) == 3
    for external_id in ("batch-a", "batch-b", "batch-c"):
        one_effect_of_a_signal(external_id)


def test_a_segment_track_call_retried_at_once_is_one_signal(
    stack: live.Server, trial: Journey, key: str
) -> None:
    basic = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    for copies in COPIES:
        external_id = f"seg-{copies}"
        event = {
            "type": "track",
            "messageId": f"msg-{external_id}",
            "userId": external_id,
            "event": "Trial Started",
            "properties": {"plan": "pro"},
            "context": {"traits": {"name": "Dee Dupe", "phone": phone_for(external_id)}},
            "timestamp": "2026-11-21T10:00:00.000Z",
        }
        request = {"path": "/v1/track", "json_body": event, "headers": {"Authorization": basic}}
        answers = at_once(stack, [request] * copies)

        no_server_errors(stack, answers)
        assert [x.status for x in answers] == [200] * copies
        bodies = [x.json() for x in answers]
        assert all(body["success"] and body["errors"] == [] for body in bodies)
        assert sorted(body["accepted"] for body in bodies) == [0] * (copies - 1) + [1]
        assert sum(body["duplicates"] for body in bodies) == copies - 1
        one_effect_of_a_signal(external_id)


def test_a_signed_webhook_delivery_sent_at_once_is_accepted_once_and_refused_409_after(
    stack: live.Server, trial: Journey, org: Org
) -> None:
    hook = InboundWebhook(
        name="Zap",
        slug="zap",
        type_path="event",
        external_id_path="contact.id",
        phone_path="contact.phone",
        name_path="contact.name?",
        property_paths={"plan": "plan"},
    )
    secret = inbound_webhook_create(webhook=hook, actor=org.users["olive"])
    for copies in COPIES:
        external_id = f"hook-{copies}"
        raw = json.dumps(
            {
                "event": "Trial Started",
                "contact": {"id": external_id, "phone": phone_for(external_id), "name": "Dee"},
                "plan": "pro",
            }
        ).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Baton-Timestamp": stamp,
            "X-Baton-Signature": signing.signature_header(secret, stamp, raw),
            "X-Baton-Delivery": f"delivery-{external_id}",
        }
        request = {"path": "/api/v1/hooks/zap/", "content": raw, "headers": headers}
        answers = at_once(stack, [request] * copies)

        no_server_errors(stack, answers)
        assert sorted(x.status for x in answers) == [202] + [409] * (copies - 1)
        first = next(x.json() for x in answers if x.status == 202)
        assert first["duplicate"] is False
        assert first["id"] == str(Signal.objects.get(contact__external_id=external_id).pk)
        assert all(x.json()["detail"] for x in answers if x.status == 409)
        one_effect_of_a_signal(external_id)


def waiting_on_contact(org: Org, external_id: str) -> Handoff:
    """A handoff a rep answered by SMS: the contact's reply wakes it."""
    contact = contact_upsert(external_id=external_id, fields=contact_json(external_id))
    handoff, _ = handoff_raise(
        request=RaiseRequest(
            contact=contact,
            team=org.teams["sales"],
            trigger="complexity",
            priority="normal",
            reason="Asked about pricing",
            evidence={},
        )
    )
    handoff_reply(handoff_id=handoff.pk, user=org.users["riley"], body="Which plan?")
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.WAITING_ON_CONTACT
    return handoff


def one_effect_of_a_reply(handoff: Handoff, external_id: str) -> Message:
    stored = Message.objects.filter(direction=Direction.IN, external_id=external_id)
    assert stored.count() == 1
    events = HandoffEvent.objects.filter(handoff=handoff, kind=HandoffEventKind.CONTACT_REPLIED)
    assert [e.data["message_id"] for e in events] == [stored[0].pk]
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.CLAIMED
    return stored[0]


def test_an_inbound_message_delivered_at_once_is_stored_and_wakes_its_handoff_once(
    stack: live.Server, org: Org, key: str
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    for copies in COPIES:
        external_id = f"in-{copies}"
        handoff = waiting_on_contact(org, external_id)
        body = {
            "contact": {"external_id": external_id},
            "channel": "sms",
            "body": "The pro plan, please",
            "external_id": f"SM-{external_id}",
        }
        request = {"path": "/api/v1/messages/inbound/", "json_body": body, "headers": auth}
        answers = at_once(stack, [request] * copies)

        no_server_errors(stack, answers)
        assert [x.status for x in answers] == [202] * copies
        bodies = [x.json() for x in answers]
        assert sorted(b["duplicate"] for b in bodies) == [False] + [True] * (copies - 1)
        stored = one_effect_of_a_reply(handoff, f"SM-{external_id}")
        assert {b["id"] for b in bodies} == {str(stored.pk)}


def test_a_twilio_message_retried_at_once_is_stored_and_wakes_its_handoff_once(
    stack: live.Server, org: Org
) -> None:
    path = "/api/v1/integrations/twilio/"
    for copies in COPIES:
        external_id = f"tw-{copies}"
        handoff = waiting_on_contact(org, external_id)
        sid = f"SM{copies:032d}"
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": phone_for(external_id),
            "To": "+447700900999",
            "Body": "Tuesday works",
            "NumMedia": "0",
        }
        signature = RequestValidator(live.TWILIO_TOKEN).compute_signature(
            live.PUBLIC_URL + path, params
        )
        request = {"path": path, "data": params, "headers": {"X-Twilio-Signature": signature}}
        answers = at_once(stack, [request] * copies)

        no_server_errors(stack, answers)
        assert [x.status for x in answers] == [200] * copies
        assert all("<Response" in x.body for x in answers)
        one_effect_of_a_reply(handoff, sid)
