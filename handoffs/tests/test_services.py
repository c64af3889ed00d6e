"""Handoff services: compare-and-swap claims, the audit and event log, reply routing and the
outbox's delivery, back-off and sweep."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from django.test import override_settings
from django.utils import timezone

from handoffs.channels import DeliveryError
from handoffs.models import Handoff, HandoffEvent, OutboxEntry
from handoffs.services import (
    RaiseRequest,
    handoff_claim,
    handoff_raise,
    handoff_reassign,
    handoff_release,
    handoff_reply,
    handoff_resolve,
    reply_route,
)
from handoffs.tasks import outbox_deliver, outbox_sweep
from journeys.models import Contact, Enrollment
from portal.errors import Conflict, InvalidInput
from portal.models import Event


class RecordingBackend:
    name = "recording"
    sent: ClassVar[list[int]] = []

    def send(self, entry: OutboxEntry) -> str:
        self.sent.append(entry.pk)
        return f"rec-{entry.pk}"


class FailingBackend:
    name = "failing"

    def send(self, entry: OutboxEntry) -> str:
        raise DeliveryError("provider down")


class CrashingBackend:
    name = "crashing"

    def send(self, entry: OutboxEntry) -> str:
        raise RuntimeError("boom")


def backends(cls: type) -> Any:
    path = f"{__name__}.{cls.__name__}"
    return override_settings(
        BATON_CHANNEL_BACKENDS=dict.fromkeys(["email", "sms", "whatsapp", "chat"], path)
    )


def raise_request(org: Any, contact: Contact, **evidence: Any) -> RaiseRequest:
    return RaiseRequest(
        contact=contact,
        team=org.teams["sales"],
        trigger="high_value",
        priority="urgent",
        reason="Budget 90,000 GBP",
        evidence=evidence or {"n": 1},
    )


def contact(external_id: str = "c-1") -> Contact:
    return Contact.objects.create(external_id=external_id, name="Ada", email="ada@example.com")


@pytest.fixture
def handoff(org) -> Handoff:
    return handoff_raise(request=raise_request(org, contact()))[0]


@pytest.fixture
def entry(org, handoff) -> OutboxEntry:
    message = handoff_reply(handoff_id=handoff.pk, user=org.users["riley"], body="Hello")
    return OutboxEntry.objects.get(message=message)


def make_due(entry: OutboxEntry) -> None:
    OutboxEntry.objects.filter(pk=entry.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_claiming_an_open_handoff_assigns_it(handoff, org):
    claimed = handoff_claim(handoff_id=handoff.pk, user=org.users["riley"])
    assert (claimed.assignee, claimed.status) == (org.users["riley"], "claimed")
    assert claimed.claimed_at is not None


def test_claiming_your_own_handoff_again_is_a_no_op(handoff, org):
    first = handoff_claim(handoff_id=handoff.pk, user=org.users["riley"])
    events = (HandoffEvent.objects.count(), Event.objects.count())
    again = handoff_claim(handoff_id=handoff.pk, user=org.users["riley"])
    assert (again.assignee, again.status, again.claimed_at) == (
        org.users["riley"],
        "claimed",
        first.claimed_at,
    )
    assert (HandoffEvent.objects.count(), Event.objects.count()) == events


def test_claiming_someone_elses_handoff_is_a_conflict(handoff, org):
    handoff_claim(handoff_id=handoff.pk, user=org.users["riley"])
    with pytest.raises(Conflict, match=r"^Already claimed by Riley Reed$"):
        handoff_claim(handoff_id=handoff.pk, user=org.users["rob"])
    assert Handoff.objects.get().assignee == org.users["riley"]


def test_a_claim_seen_already_taken_is_answered_from_what_was_seen(
    handoff, org, django_assert_num_queries
):
    """The views pass the handoff they just read: a committed claim is final for this click,
    so the loser is told without a transaction or the event-log lock."""
    handoff_claim(handoff_id=handoff.pk, user=org.users["riley"])
    seen = Handoff.objects.select_related("assignee").get(pk=handoff.pk)
    with django_assert_num_queries(0), pytest.raises(Conflict, match=r"^Already claimed by Riley"):
        handoff_claim(handoff_id=handoff.pk, user=org.users["rob"], seen=seen)
    with django_assert_num_queries(0):
        again = handoff_claim(handoff_id=handoff.pk, user=org.users["riley"], seen=seen)
    assert again.assignee == org.users["riley"]


def test_a_stale_sight_of_an_open_handoff_still_races_through_the_database(handoff, org):
    """`seen` only ever refuses: one read before someone else's claim committed goes through
    the compare-and-swap, which finds the handoff taken."""
    seen = Handoff.objects.get(pk=handoff.pk)  # open, unassigned
    handoff_claim(handoff_id=handoff.pk, user=org.users["riley"])
    with pytest.raises(Conflict, match=r"^Already claimed by Riley Reed$"):
        handoff_claim(handoff_id=handoff.pk, user=org.users["rob"], seen=seen)
    assert Handoff.objects.get().assignee == org.users["riley"]
    assert HandoffEvent.objects.filter(kind="claimed").count() == 1


def test_a_raise_for_a_contact_with_an_active_handoff_attaches_evidence(handoff, org):
    again, created = handoff_raise(request=raise_request(org, handoff.contact, n=2))
    assert (again.pk, created) == (handoff.pk, False)
    assert again.evidence == [{"n": 1}, {"n": 2}]


def test_every_service_writes_a_handoff_event_and_a_log_event_in_the_api_shape(
    handoff, org, as_user
):
    users = org.users
    steps = [
        ("evidence_added", lambda: handoff_raise(request=raise_request(org, handoff.contact))),
        ("claimed", lambda: handoff_claim(handoff_id=handoff.pk, user=users["riley"])),
        ("released", lambda: handoff_release(handoff_id=handoff.pk, user=users["riley"])),
        (
            "reassigned",
            lambda: handoff_reassign(
                handoff_id=handoff.pk, user=users["sam"], assignee=users["rob"]
            ),
        ),
        ("replied", lambda: handoff_reply(handoff_id=handoff.pk, user=users["rob"], body="Hi")),
        (
            "resolved",
            lambda: handoff_resolve(
                handoff_id=handoff.pk, user=users["rob"], resolution="Won", resume_automation=True
            ),
        ),
    ]
    detail = as_user("sam")
    created = Event.objects.get()
    assert (created.type, created.handoff_id, created.team_id) == (
        "handoff.created",
        handoff.pk,
        org.teams["sales"].pk,
    )
    assert created.payload["status"] == "open"
    seqs = [created.pk]
    for kind, step in steps:
        step()
        assert HandoffEvent.objects.filter(handoff=handoff).latest("id").kind == kind
        event = Event.objects.latest("id")
        assert (event.type, event.handoff_id) == ("handoff.updated", handoff.pk)
        assert event.payload == detail.get(f"/api/v1/handoffs/{handoff.pk}/").json()
        seqs.append(event.pk)
    assert seqs == sorted(set(seqs))
    assert list(HandoffEvent.objects.values_list("kind", flat=True)) == ["created"] + [
        kind for kind, _ in steps
    ]
    assert Event.objects.count() == len(steps) + 1


def test_resolving_keeps_journeys_paused_while_another_handoff_holds_the_contact(org, send_signal):
    send_signal(key="form-1")
    handoff = Handoff.objects.get()
    other = handoff_raise(request=replace(raise_request(org, handoff.contact), trigger="sentiment"))
    handoff_resolve(
        handoff_id=handoff.pk, user=org.users["sam"], resolution="Done", resume_automation=True
    )
    assert Enrollment.objects.get().status == "paused_for_human"
    handoff_resolve(
        handoff_id=other[0].pk, user=org.users["sam"], resolution="Done", resume_automation=True
    )
    assert Enrollment.objects.get().status == "active"


def routed(**fields: Any) -> tuple[str, str]:
    defaults = {"external_id": "c-9", "email": "", "phone": "", "opted_out_channels": []}
    return reply_route(Contact(**{**defaults, **fields}))


@pytest.mark.parametrize(
    ("fields", "route"),
    [
        (
            {"last_inbound_channel": "whatsapp", "email": "a@x.io", "phone": "+4477"},
            ("whatsapp", "+4477"),
        ),
        ({"last_inbound_channel": "sms", "email": "a@x.io", "phone": "+4477"}, ("sms", "+4477")),
        ({"last_inbound_channel": "chat", "email": "a@x.io"}, ("chat", "c-9")),
        ({"email": "a@x.io", "phone": "+4477"}, ("email", "a@x.io")),
        ({"phone": "+4477"}, ("sms", "+4477")),
        (
            {"email": "a@x.io", "phone": "+4477", "opted_out_channels": ["email"]},
            ("sms", "+4477"),
        ),
        (
            {
                "last_inbound_channel": "sms",
                "email": "a@x.io",
                "phone": "+4477",
                "opted_out_channels": ["sms"],
            },
            ("email", "a@x.io"),
        ),
        ({"last_inbound_channel": "whatsapp", "email": "a@x.io"}, ("email", "a@x.io")),
    ],
)
def test_a_reply_goes_out_on_the_conversations_channel(fields, route):
    assert routed(**fields) == route


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"email": "a@x.io", "opted_out_channels": ["email"]},
        {"email": "a@x.io", "phone": "+4477", "opted_out_channels": ["email", "sms"]},
        {"last_inbound_channel": "sms", "phone": "+4477", "opted_out_channels": ["sms"]},
    ],
)
def test_a_contact_with_no_channel_we_may_use_cannot_be_replied_to(fields):
    with pytest.raises(InvalidInput) as error:
        routed(**fields)
    assert list(error.value.errors) == ["contact"]


def test_a_reply_to_an_unreachable_contact_stores_nothing(org):
    unreachable = Contact.objects.create(external_id="c-2", name="Nobody")
    handoff = handoff_raise(request=raise_request(org, unreachable))[0]
    with pytest.raises(InvalidInput):
        handoff_reply(handoff_id=handoff.pk, user=org.users["riley"], body="Hi")
    assert not OutboxEntry.objects.exists()
    assert Handoff.objects.get().status == "open"


def test_a_reply_queues_one_outbox_entry_to_the_contacts_address(entry):
    assert (entry.status, entry.attempts, entry.channel, entry.to_address) == (
        "queued",
        0,
        "email",
        "ada@example.com",
    )


def test_delivering_one_entry_twice_sends_it_once(entry):
    RecordingBackend.sent = []
    with backends(RecordingBackend):
        assert [outbox_deliver(entry.pk), outbox_deliver(entry.pk)] == ["sent", "skipped"]
    entry.refresh_from_db()
    assert RecordingBackend.sent == [entry.pk]
    assert (entry.status, entry.attempts, entry.backend, entry.provider_message_id) == (
        "sent",
        1,
        "recording",
        f"rec-{entry.pk}",
    )
    assert (entry.sent_at is not None, entry.lease_until, entry.last_error) == (True, None, "")


def test_the_local_backend_records_the_send(entry):
    with override_settings(BATON_CHANNEL_BACKENDS={"email": "handoffs.channels.LocalBackend"}):
        assert outbox_deliver(entry.pk) == "sent"
    entry.refresh_from_db()
    assert (entry.status, entry.backend, entry.provider_message_id) == (
        "sent",
        "local",
        f"local-{entry.pk}",
    )


def deliver_failing(entry: OutboxEntry, backend: type = FailingBackend) -> tuple[Any, Any]:
    with backends(backend):
        before = timezone.now()
        assert outbox_deliver(entry.pk) == "failed"
        after = timezone.now()
    entry.refresh_from_db()
    return before, after


def test_a_failed_delivery_is_queued_again_after_a_back_off(entry):
    before, after = deliver_failing(entry)
    assert (entry.status, entry.attempts, entry.last_error, entry.lease_until) == (
        "queued",
        1,
        "provider down",
        None,
    )
    assert before + timedelta(seconds=30) <= entry.next_attempt_at <= after + timedelta(seconds=30)
    assert outbox_deliver(entry.pk) == "skipped"


def test_a_crashing_backend_counts_as_a_failed_attempt(entry):
    deliver_failing(entry, CrashingBackend)
    assert (entry.status, entry.attempts, entry.last_error) == ("queued", 1, "RuntimeError: boom")


@override_settings(OUTBOX_MAX_ATTEMPTS=3)
def test_a_delivery_that_keeps_failing_gives_up_after_the_max_attempts(entry):
    for attempt in (1, 2, 3):
        make_due(entry)
        before, after = deliver_failing(entry)
        back_off = timedelta(seconds=30 * 2 ** (attempt - 1))
        assert before + back_off <= entry.next_attempt_at <= after + back_off
        assert entry.attempts == attempt
    assert entry.status == "failed"
    make_due(entry)
    assert outbox_deliver(entry.pk) == "skipped"
    assert OutboxEntry.objects.get().attempts == 3


def test_the_sweep_delivers_an_entry_whose_task_was_lost(entry):
    assert outbox_sweep() == 1
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == ("sent", 1)
    assert outbox_sweep() == 0


def test_the_sweep_waits_for_the_back_off(entry):
    OutboxEntry.objects.filter(pk=entry.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=1)
    )
    assert outbox_sweep() == 0
    assert OutboxEntry.objects.get().status == "queued"


@pytest.mark.parametrize(("lease_minutes", "swept"), [(5, 0), (-1, 1)])
def test_the_sweep_retakes_a_sending_entry_only_once_its_lease_expires(entry, lease_minutes, swept):
    OutboxEntry.objects.filter(pk=entry.pk).update(
        status="sending", lease_until=timezone.now() + timedelta(minutes=lease_minutes)
    )
    assert outbox_sweep() == swept
    assert OutboxEntry.objects.get().status == ("sent" if swept else "sending")
