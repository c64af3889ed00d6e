"""Races found by review, pinned on PostgreSQL with real threads and connections."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from conftest import key_client, run_concurrently, signal_body
from handoffs.choices import OutboxStatus
from handoffs.models import Handoff, Message, OutboxEntry
from handoffs.outbox import outbox_claim, outbox_mark_sent
from handoffs.services import handoff_claim, handoff_reply, handoff_resolve
from portal.errors import Conflict

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_same_inbound_message_delivered_concurrently_is_stored_once(org, api_key):
    body = {
        "contact": {"external_id": "c-1", "phone": "+447700900123"},
        "channel": "sms",
        "body": "yes please",
        "external_id": "SM-race",
    }

    def post() -> Any:
        return key_client(api_key).post("/api/v1/messages/inbound/", body, format="json")

    responses = run_concurrently([post] * 8)

    assert [r.status_code for r in responses] == [202] * 8
    assert sorted(r.json()["duplicate"] for r in responses) == [False] + [True] * 7
    assert len({r.json()["id"] for r in responses}) == 1
    assert Message.objects.count() == 1


def test_replies_and_batches_touching_the_same_handoff_never_deadlock(org, api_key):
    """A reply locks its handoff; a batch attaching evidence to that handoff locks it too,
    after raising another. Both take the event-log lock first, so neither waits in a cycle."""
    client = key_client(api_key)
    assert (
        client.post("/api/v1/signals/", signal_body(external_id="c-hot"), format="json").status_code
        == 202
    )
    hot = Handoff.objects.get()
    riley = org.users["riley"]
    handoff_claim(handoff_id=hot.pk, user=riley)

    def reply(n: int) -> Any:
        return lambda: handoff_reply(handoff_id=hot.pk, user=riley, body=f"reply {n}")

    def batch(n: int) -> Any:
        items = [
            signal_body(external_id=f"c-new-{n}", budget=90000),
            signal_body(external_id="c-hot", budget=90000),
        ]
        return lambda: key_client(api_key).post(
            "/api/v1/signals/batch/", {"signals": items}, format="json"
        )

    calls: list[Any] = []
    for n in range(6):
        calls += [reply(n), batch(n)]
    results = run_concurrently(calls)

    batches = [r for r in results if hasattr(r, "status_code")]
    assert [r.status_code for r in batches] == [202] * 6
    assert [r.json()["accepted"] for r in batches] == [2] * 6
    assert Message.objects.filter(handoff=hot, direction="out").count() == 6
    assert len(Handoff.objects.get(pk=hot.pk).evidence) == 7


def test_a_rep_cannot_resolve_a_handoff_someone_claimed_after_they_looked(org, send_signal):
    send_signal(budget=90000)
    handoff = Handoff.objects.get()
    handoff_claim(handoff_id=handoff.pk, user=org.users["riley"])

    with pytest.raises(Conflict, match="Already claimed by Riley Reed"):
        handoff_resolve(
            handoff_id=handoff.pk, user=org.users["rob"], resolution="", resume_automation=False
        )
    assert Handoff.objects.get().status == "claimed"


def test_a_worker_whose_lease_expired_cannot_record_over_the_new_holder(org, send_signal):
    send_signal(budget=90000)
    handoff = Handoff.objects.get()
    message = handoff_reply(handoff_id=handoff.pk, user=org.users["riley"], body="hi")
    entry = OutboxEntry.objects.get(message=message)
    OutboxEntry.objects.filter(pk=entry.pk).update(
        status=OutboxStatus.QUEUED, sent_at=None, attempts=0, provider_message_id=""
    )
    stale = outbox_claim(entry_id=entry.pk)
    assert stale is not None
    OutboxEntry.objects.filter(pk=entry.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    current = outbox_claim(entry_id=entry.pk)
    assert current is not None

    outbox_mark_sent(entry=stale, backend="local", provider_message_id="stale")

    assert OutboxEntry.objects.get(pk=entry.pk).status == OutboxStatus.SENDING
    outbox_mark_sent(entry=current, backend="local", provider_message_id="current")
    sent = OutboxEntry.objects.get(pk=entry.pk)
    assert (sent.status, sent.provider_message_id) == (OutboxStatus.SENT, "current")
