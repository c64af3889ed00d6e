"""Outbound webhooks through the real stack: a `celery worker` process on Redis (the fixture of
handoffs/tests/test_worker_integration.py) and the test database on PostgreSQL, nothing eager;
a local HTTP server plays the subscriber."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from handoffs.tests import test_worker_integration as stack
from portal.integrations import signing
from portal.integrations.outbound_models import (
    DeliveryStatus,
    OutboundDelivery,
    WebhookSubscription,
)
from portal.integrations.outbound_services import webhook_subscription_create
from portal.integrations.tasks import outbound_deliver, outbound_sweep
from portal.tests import test_integrations_out_fakes as fakes
from portal.tests.test_integrations_out_fakes import Answer, FakeServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
worker = stack.worker
fake_server = fakes.fake_server
SECONDS = 30


def test_the_worker_dispatches_the_log_and_delivers_signed_then_retries_a_5xx(
    worker: stack.Worker, org: Any, send_signal: Callable[..., Any], fake_server: FakeServer
) -> None:
    subscription = WebhookSubscription(
        name="CRM", url=fake_server.url + "/hook", event_types=["handoff.created"]
    )
    secret = webhook_subscription_create(subscription=subscription, actor=None)
    fake_server.answers = [Answer(502, "bad gateway")]

    assert send_signal(external_id="c-out", key="out-1").status_code == 202

    def attempted() -> OutboundDelivery | None:
        return OutboundDelivery.objects.filter(attempts__gte=1).first()

    delivery = worker.wait_for("the first attempt", attempted, SECONDS)
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.last_status_code == 502

    OutboundDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    outbound_sweep.delay()

    def delivered() -> OutboundDelivery | None:
        return OutboundDelivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.DELIVERED
        ).first()

    done = worker.wait_for("the retry to be delivered", delivered, SECONDS)
    assert done.attempts == 2
    first, second = fake_server.requests
    for request in (first, second):
        signing.verify(
            secrets=[secret],
            timestamp=request.header(signing.TIMESTAMP_HEADER),
            signature=request.header(signing.SIGNATURE_HEADER),
            body=request.body,
        )
    assert first.header(signing.DELIVERY_HEADER) == second.header(signing.DELIVERY_HEADER)
    assert second.json()["data"]["contact"]["external_id"] == "c-out"


def test_the_same_task_queued_twice_calls_the_receiver_once(
    worker: stack.Worker, org: Any, send_signal: Callable[..., Any], fake_server: FakeServer
) -> None:
    subscription = WebhookSubscription(
        name="CRM", url=fake_server.url, event_types=["handoff.created"]
    )
    webhook_subscription_create(subscription=subscription, actor=None)
    fake_server.answers = [Answer(500)]
    send_signal(external_id="c-twice", key="twice-1")

    def attempted() -> OutboundDelivery | None:
        return OutboundDelivery.objects.filter(attempts__gte=1).first()

    delivery = worker.wait_for("the first attempt", attempted, SECONDS)
    OutboundDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    mark = worker.mark()
    first = outbound_deliver.delay(delivery.pk)
    second = outbound_deliver.delay(delivery.pk)
    results = [
        worker.wait_for(f"task {task.id}", lambda t=task: worker.finished(t.id), SECONDS)
        for task in (first, second)
    ]

    assert sorted(results) == ["'delivered'", "'skipped'"], worker.log(mark)
    assert len(fake_server.requests) == 2  # the 500, then exactly one more
