"""Outbound webhooks against a real local HTTP server playing the subscriber: events become
persisted deliveries, signed exactly like inbound webhooks (checked with signing.verify), retried
with back-off on a 5xx, dead-lettered after N attempts, redelivered with the same id from admin,
and never sent twice when the task runs twice — or twice at once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from conftest import Org, run_concurrently
from handoffs.choices import Channel, Direction
from handoffs.models import Handoff, Message
from handoffs.services import conversation_for
from journeys.models import Contact, Enrollment
from journeys.services import enrollments_resume_for_contact
from portal.integrations import signing
from portal.integrations.outbound import (
    deliveries_redeliver,
    delivery_claim,
    retry_delay,
    send_webhook,
)
from portal.integrations.outbound_events import message_events_record, outbound_dispatch_log
from portal.integrations.outbound_models import (
    DeliveryStatus,
    NotificationChannel,
    OutboundDelivery,
    WebhookSubscription,
)
from portal.integrations.outbound_services import (
    webhook_subscription_create,
    webhook_subscription_rotate_secret,
)
from portal.integrations.tasks import outbound_deliver, outbound_prune, outbound_sweep
from portal.tests import test_integrations_out_fakes as fakes
from portal.tests.test_integrations_out_fakes import Answer, FakeServer

pytestmark = pytest.mark.django_db(transaction=True)
fake_server = fakes.fake_server


def subscribe(url: str, *types: str, name: str = "CRM") -> tuple[WebhookSubscription, str]:
    subscription = WebhookSubscription(name=name, url=url, event_types=list(types) or ["*"])
    secret = webhook_subscription_create(subscription=subscription, actor=None)
    return subscription, secret


def verified(request: Any, *secrets: str) -> int:
    """What a receiver does: check the signature with Baton's own verify()."""
    return signing.verify(
        secrets=secrets,
        timestamp=request.header(signing.TIMESTAMP_HEADER),
        signature=request.header(signing.SIGNATURE_HEADER),
        body=request.body,
    )


def make_due(*deliveries: OutboundDelivery) -> None:
    """Stand in for the clock: the back-off has passed."""
    OutboundDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_a_raised_handoff_reaches_the_subscriber_signed_like_inbound_webhooks(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    _, secret = subscribe(fake_server.url + "/hooks/baton", "handoff.*")

    assert send_signal().status_code == 202

    handoff = Handoff.objects.get()
    [request] = fake_server.requests
    assert request.path == "/hooks/baton"
    assert request.header("content-type") == "application/json"
    verified(request, secret)  # raises if the signature does not hold
    body = request.json()
    assert body["type"] == "handoff.created"
    assert body["data"]["id"] == handoff.pk
    assert body["data"]["contact"]["name"] == "Ada Lovelace"
    assert body["data"]["priority"] == "urgent"
    assert body["id"] == f"seq-{body['seq']}"
    delivery = OutboundDelivery.objects.get()
    assert request.header(signing.DELIVERY_HEADER) == str(delivery.delivery_id)
    assert request.header("x-baton-event") == "handoff.created"
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
    )


def test_a_tampered_body_or_another_secret_fails_verification(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    _, secret = subscribe(fake_server.url, "handoff.created")
    send_signal()
    [request] = fake_server.requests
    with pytest.raises(signing.SignatureError):
        verified(request, "whsec_someone-else")
    request.body = request.body.replace(b"Ada", b"Eve")
    with pytest.raises(signing.SignatureError):
        verified(request, secret)


def test_subscribers_get_only_the_event_types_they_asked_for(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    subscribe(fake_server.url + "/handoffs", "handoff.created")
    subscribe(fake_server.url + "/enrollments", "enrollment.*")
    subscribe(fake_server.url + "/messages", "message.received")

    send_signal()

    by_path: dict[str, list[str]] = {}
    for request in fake_server.requests:
        by_path.setdefault(request.path, []).append(request.json()["type"])
    assert by_path["/handoffs"] == ["handoff.created"]
    # The £50,000 form enrolls Ada in the nurture, and the raised handoff pauses it.
    assert sorted(by_path["/enrollments"]) == ["enrollment.paused", "enrollment.started"]
    assert "/messages" not in by_path


def test_enrollment_events_carry_the_journey_stage_contact_and_reason(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    _, secret = subscribe(fake_server.url, "enrollment.paused", "enrollment.resumed")
    send_signal()
    contact = Contact.objects.get(external_id="c-1001")
    enrollments_resume_for_contact(contact_id=contact.pk, actor=None, reason="Back to nurture")

    paused, resumed = (r.json() for r in fake_server.requests)
    for request in fake_server.requests:
        verified(request, secret)
    enrollment = Enrollment.objects.get()
    assert paused["type"] == "enrollment.paused"
    assert paused["data"]["id"] == enrollment.pk
    assert paused["data"]["status"] == "paused_for_human"
    assert paused["data"]["journey"] == {
        "id": org.journey.pk,
        "slug": "lead-nurture",
        "name": "Lead nurture",
    }
    assert paused["data"]["stage"]["name"] == "Nurture"
    assert paused["data"]["contact"]["external_id"] == "c-1001"
    assert paused["data"]["reason"] == "the Sales team has the baton"
    assert resumed["type"] == "enrollment.resumed"
    assert (resumed["data"]["status"], resumed["data"]["reason"]) == ("active", "Back to nurture")
    assert paused["id"] != resumed["id"]


def test_a_message_event_carries_the_message_as_committed(
    org: Org, fake_server: FakeServer
) -> None:
    """The hook services call where a message is stored (docs/integrations.md)."""
    subscribe(fake_server.url, "message.*")
    contact = Contact.objects.create(external_id="c-9", name="Grace Hopper")
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation_for(contact),
            direction=Direction.IN,
            channel=Channel.SMS,
            body="Can we talk pricing?",
            external_id="SM123",
        )
        message_events_record("message.received", [message.pk])
        assert fake_server.requests == []  # nothing before the commit

    [request] = fake_server.requests
    body = request.json()
    assert body["type"] == "message.received"
    assert body["data"]["body"] == "Can we talk pricing?"
    assert body["data"]["contact"]["name"] == "Grace Hopper"
    assert (body["data"]["channel"], body["data"]["direction"]) == ("sms", "in")


def test_a_rolled_back_change_announces_nothing(org: Org, fake_server: FakeServer) -> None:
    subscribe(fake_server.url, "message.*")
    contact = Contact.objects.create(external_id="c-9", name="Grace Hopper")
    with pytest.raises(RuntimeError), transaction.atomic():
        message = Message.objects.create(
            conversation=conversation_for(contact),
            direction=Direction.IN,
            channel=Channel.SMS,
            body="hello",
        )
        message_events_record("message.received", [message.pk])
        raise RuntimeError("the service failed after the hook")
    assert fake_server.requests == []
    assert not OutboundDelivery.objects.exists()


def test_a_process_dying_between_the_commit_and_the_send_loses_no_message_event(
    org: Org, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delivery is written in the change's own transaction, so a process that dies after
    the commit, before it hands the delivery to a worker, leaves it due: the sweep sends it."""
    from portal.integrations import outbound_events

    subscribe(fake_server.url, "message.*")
    contact = Contact.objects.create(external_id="c-9", name="Grace Hopper")
    monkeypatch.setattr(outbound_events, "_send_now", lambda pks: None)  # the process dies here
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation_for(contact),
            direction=Direction.IN,
            channel=Channel.SMS,
            body="Still there?",
        )
        message_events_record("message.received", [message.pk])

    assert fake_server.requests == []
    [delivery] = OutboundDelivery.objects.all()
    assert (delivery.event_type, delivery.status) == ("message.received", DeliveryStatus.PENDING)

    monkeypatch.undo()
    assert outbound_sweep() == 1
    [request] = fake_server.requests
    assert request.json()["data"]["body"] == "Still there?"
    assert request.header("X-Baton-Delivery") == str(delivery.delivery_id)


def test_a_5xx_is_retried_with_back_off_then_delivered_with_the_same_id(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    _, secret = subscribe(fake_server.url, "handoff.created")
    fake_server.answers = [Answer(503, "down for maintenance")]

    before = timezone.now()
    send_signal()

    delivery = OutboundDelivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING
    assert (delivery.attempts, delivery.last_status_code) == (1, 503)
    assert delivery.last_error == "HTTP 503: down for maintenance"
    # The first back-off is between half and all of the 30 s base (equal jitter).
    assert before + timedelta(seconds=15) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= timezone.now() + timedelta(seconds=30)

    assert outbound_sweep() == 0  # not due yet: nothing is sent early
    assert len(fake_server.requests) == 1

    make_due(delivery)
    assert outbound_sweep() == 1

    first, second = fake_server.requests
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert first.header(signing.DELIVERY_HEADER) == second.header(signing.DELIVERY_HEADER)
    assert (first.header("x-baton-attempt"), second.header("x-baton-attempt")) == ("1", "2")
    assert first.body == second.body  # the same bytes, signed afresh
    verified(second, secret)


@pytest.mark.parametrize("attempts", range(1, 12))
def test_back_off_doubles_with_jitter_and_stays_under_the_cap(settings: Any, attempts: int) -> None:
    settings.BATON_OUTBOUND_RETRY_BASE_SECONDS = 30
    settings.BATON_OUTBOUND_RETRY_MAX_SECONDS = 3600
    ceiling = min(3600, 30 * 2 ** (attempts - 1))
    delays = [retry_delay(attempts) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1  # jittered, not one fixed instant for every delivery


def test_retry_after_from_the_receiver_is_honoured(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    subscribe(fake_server.url, "handoff.created")
    fake_server.answers = [Answer(429, "slow down", {"Retry-After": "600"})]
    send_signal()
    delivery = OutboundDelivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.next_attempt_at >= timezone.now() + timedelta(seconds=590)


def test_after_n_attempts_it_is_a_dead_letter_and_redeliver_sends_the_same_delivery(
    org: Org, send_signal: Any, fake_server: FakeServer, settings: Any
) -> None:
    settings.BATON_OUTBOUND_MAX_ATTEMPTS = 3
    subscribe(fake_server.url, "handoff.created")
    fake_server.default = Answer(500, "boom")

    send_signal()
    delivery = OutboundDelivery.objects.get()
    for _ in range(5):  # more sweeps than attempts: a dead letter is not retried
        make_due(delivery)
        outbound_sweep()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DEAD, 3)
    assert len(fake_server.requests) == 3

    # Ops see it in the dead-letter list and redeliver it from admin once the receiver is fixed.
    fake_server.default = Answer(200, "ok")
    admin = Client()
    admin.force_login(org.users["olive"])
    org.users["olive"].is_superuser = True
    org.users["olive"].save()
    page = admin.get("/admin/portal/deadletter/")
    assert page.status_code == 200
    assert str(delivery.delivery_id) in page.content.decode() or "handoff.created" in (
        page.content.decode()
    )
    response = admin.post(
        "/admin/portal/deadletter/",
        {"action": "redeliver", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Redelivering 1" in response.content.decode()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.redeliveries) == (
        DeliveryStatus.DELIVERED,
        1,
        1,
    )
    ids = {r.header(signing.DELIVERY_HEADER) for r in fake_server.requests}
    assert ids == {str(delivery.delivery_id)}
    assert len(fake_server.requests) == 4
    assert admin.get("/admin/portal/deadletter/").content.decode().count("handoff.created") == 0


def test_a_gone_receiver_410_is_a_dead_letter_at_once(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    subscribe(fake_server.url, "handoff.created")
    fake_server.answers = [Answer(410, "gone")]
    send_signal()
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DEAD, 1)


def test_an_unreachable_receiver_is_retried_with_the_reason(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    url = fake_server.url
    fake_server.stop()  # nothing listens there any more
    subscribe(url, "handoff.created")
    send_signal()
    delivery = OutboundDelivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.last_error.startswith("could not reach 127.0.0.1")


def test_only_dead_letters_are_redelivered_a_delivered_one_never_again(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    subscribe(fake_server.url, "handoff.created")
    send_signal()
    delivery = OutboundDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED

    assert deliveries_redeliver(pks=[delivery.pk], actor=None) == []
    assert outbound_deliver(delivery.pk) == "skipped"
    assert outbound_sweep() == 0
    assert len(fake_server.requests) == 1


def test_the_task_running_twice_sends_once(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    subscribe(fake_server.url, "handoff.created")
    fake_server.answers = [Answer(500)]
    send_signal()
    delivery = OutboundDelivery.objects.get()
    make_due(delivery)

    assert outbound_deliver(delivery.pk) == "delivered"
    assert outbound_deliver(delivery.pk) == "skipped"
    assert len(fake_server.requests) == 2  # the failed first attempt, and one success


def test_two_workers_at_once_send_once(org: Org, send_signal: Any, fake_server: FakeServer) -> None:
    """A broker redelivering the task while the sweep picks the delivery up: the lease's
    compare-and-swap lets one of them send, even while the receiver is slow to answer."""
    subscribe(fake_server.url, "handoff.created")
    fake_server.answers = [Answer(500)]
    send_signal()
    delivery = OutboundDelivery.objects.get()
    make_due(delivery)
    fake_server.default = Answer(200, delay=0.5)

    results = run_concurrently([lambda: outbound_deliver(delivery.pk) for _ in range(4)])

    assert sorted(results) == ["delivered", "skipped", "skipped", "skipped"]
    assert len(fake_server.requests) == 2


def test_a_worker_dying_after_the_2xx_resends_with_the_same_delivery_id(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    """At least once, honestly: the receiver answered 2xx but the worker died before marking.
    The sweep sends it again once the lease expires, with the same X-Baton-Delivery, so a
    receiver that remembers ids drops the copy (docs/integrations.md)."""
    subscribe(fake_server.url, "handoff.created")
    fake_server.answers = [Answer(500)]
    send_signal()
    delivery = OutboundDelivery.objects.get()
    make_due(delivery)

    claimed = delivery_claim(delivery_pk=delivery.pk)
    assert claimed is not None
    assert send_webhook(claimed).ok  # ... and the worker dies here, before marking

    assert outbound_sweep() == 0  # the lease still holds: nobody else sends meanwhile
    OutboundDelivery.objects.filter(pk=delivery.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert outbound_sweep() == 1

    _, died, resent = fake_server.requests
    assert died.header(signing.DELIVERY_HEADER) == resent.header(signing.DELIVERY_HEADER)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_dispatching_the_log_twice_makes_each_delivery_once(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    subscribe(fake_server.url, "handoff.*")
    send_signal()
    assert OutboundDelivery.objects.count() == 1
    # A second dispatcher from an old cursor (a crash before the cursor moved) changes nothing.
    from portal.integrations.outbound_models import OutboundCursor

    OutboundCursor.objects.update(event_seq=0)
    assert outbound_dispatch_log() == []
    assert OutboundDelivery.objects.count() == 1


def test_a_subscriber_set_up_later_gets_only_later_events(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    send_signal()
    subscribe(fake_server.url, "handoff.*")
    send_signal(external_id="c-2002", key="second")
    contacts = [r.json()["data"]["contact"]["external_id"] for r in fake_server.requests]
    assert contacts == ["c-2002"]


def test_inactive_subscribers_get_nothing(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    subscription, _ = subscribe(fake_server.url, "*")
    WebhookSubscription.objects.filter(pk=subscription.pk).update(is_active=False)
    send_signal()
    assert fake_server.requests == []


def test_during_a_rotation_both_secrets_sign_and_each_verifies(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    subscription, old = subscribe(fake_server.url, "handoff.created")
    _, new = webhook_subscription_rotate_secret(
        subscription_id=subscription.pk, actor=org.users["olive"]
    )
    send_signal()
    [request] = fake_server.requests
    assert request.header(signing.SIGNATURE_HEADER).count("v1=") == 2
    verified(request, old)
    verified(request, new)


def test_admin_makes_a_subscriber_shows_the_secret_once_and_refuses_unknown_types(
    org: Org,
) -> None:
    olive = org.users["olive"]
    olive.is_superuser = True
    olive.save()
    admin = Client()
    admin.force_login(olive)
    bad = admin.post(
        "/admin/portal/webhooksubscription/add/",
        {"name": "CRM", "url": "https://crm.example.com/hook", "event_types": "handoff.claimed"},
    )
    assert bad.status_code == 200
    assert "is not an event type" in bad.content.decode()
    assert not WebhookSubscription.objects.exists()

    made = admin.post(
        "/admin/portal/webhooksubscription/add/",
        {
            "name": "CRM",
            "url": "https://crm.example.com/hook",
            "event_types": "handoff.*\nenrollment.stage_changed",
            "is_active": "on",
        },
        follow=True,
    )
    subscription = WebhookSubscription.objects.get()
    assert subscription.event_types == ["handoff.*", "enrollment.stage_changed"]
    assert subscription.secret in made.content.decode()  # shown once…
    page = admin.get(f"/admin/portal/webhooksubscription/{subscription.pk}/change/")
    assert subscription.secret not in page.content.decode()  # …then masked
    assert subscription.secret[-4:] in page.content.decode()


def test_a_webhook_body_is_compact_sorted_json(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    subscribe(fake_server.url, "handoff.created")
    send_signal()
    [request] = fake_server.requests
    body = request.json()
    assert (
        request.body
        == json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    )
    assert set(body) == {"id", "type", "occurred_at", "data", "seq"}


@pytest.mark.parametrize("rows", [10, 500])
def test_the_delivery_lists_cost_the_same_queries_at_10_or_500_rows(
    org: Org, rows: int, django_assert_max_num_queries: Any
) -> None:
    olive = org.users["olive"]
    olive.is_superuser = True
    olive.save()
    subscriptions = [
        subscribe(f"https://crm{n}.example.com/hook", "*", name=f"CRM {n}")[0] for n in range(5)
    ]
    team_channel = NotificationChannel.objects.create(
        team=org.teams["sales"], name="#sales", kind="slack", webhook_url="https://h.example/x"
    )
    now = timezone.now()
    OutboundDelivery.objects.bulk_create(
        OutboundDelivery(
            kind="webhook" if n % 2 else "slack",
            subscription=subscriptions[n % 5] if n % 2 else None,
            channel=None if n % 2 else team_channel,
            event_type="handoff.created",
            event_key=f"seq-{n}",
            payload={"n": n},
            status=DeliveryStatus.DEAD,
            next_attempt_at=now,
        )
        for n in range(rows)
    )
    admin = Client()
    admin.force_login(olive)
    for url in (
        "/admin/portal/outbounddelivery/",
        "/admin/portal/deadletter/",
        "/admin/portal/webhooksubscription/",
    ):
        with django_assert_max_num_queries(12):
            assert admin.get(url).status_code == 200


def test_old_delivered_deliveries_are_pruned_and_dead_letters_kept(org: Org, settings: Any) -> None:
    settings.BATON_OUTBOUND_RETENTION_DAYS = 30
    subscription, _ = subscribe("https://crm.example.com/hook", "*")
    now = timezone.now()

    def made(key: str, status: str, delivered_days_ago: int | None) -> OutboundDelivery:
        return OutboundDelivery.objects.create(
            kind="webhook",
            subscription=subscription,
            event_type="handoff.created",
            event_key=key,
            payload={},
            status=status,
            next_attempt_at=now,
            delivered_at=None
            if delivered_days_ago is None
            else now - timedelta(days=delivered_days_ago),
        )

    old = made("old", DeliveryStatus.DELIVERED, 31)
    recent = made("recent", DeliveryStatus.DELIVERED, 29)
    dead = made("dead", DeliveryStatus.DEAD, None)

    assert outbound_prune(batch=1) == 1
    assert set(OutboundDelivery.objects.values_list("pk", flat=True)) == {recent.pk, dead.pk}
    assert old.pk not in OutboundDelivery.objects.values_list("pk", flat=True)


def test_unenrolling_by_hand_announces_enrollment_dropped(
    org: Org, send_signal: Any, fake_server: FakeServer
) -> None:
    from journeys.services import enrollment_unenroll

    subscribe(fake_server.url, "enrollment.dropped")
    send_signal(budget=500)  # enrolls in the nurture; no handoff
    enrollment = Enrollment.objects.get()
    enrollment_unenroll(
        enrollment_id=enrollment.pk, actor=org.users["olive"], reason="Asked to stop"
    )

    [request] = fake_server.requests
    body = request.json()
    assert body["type"] == "enrollment.dropped"
    assert (body["data"]["id"], body["data"]["status"]) == (enrollment.pk, "dropped")
    assert body["data"]["reason"] == "Asked to stop"
