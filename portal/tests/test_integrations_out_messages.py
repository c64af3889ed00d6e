"""message.* events from the message services (inbound.py, outbox.py), and Twilio's permanent
refusals failing an outbox entry at once — against a real local HTTP server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from conftest import Org, signal_body
from handoffs.choices import OutboxStatus
from handoffs.models import Handoff, OutboxEntry
from handoffs.services import handoff_reply
from portal.integrations.outbound_models import WebhookSubscription
from portal.integrations.outbound_services import webhook_subscription_create
from portal.tests import test_integrations_out_fakes as fakes
from portal.tests.test_integrations_out_fakes import Answer, FakeServer

pytestmark = pytest.mark.django_db(transaction=True)
fake_server = fakes.fake_server


def subscribe(url: str, *types: str) -> None:
    webhook_subscription_create(
        subscription=WebhookSubscription(name="CRM", url=url, event_types=list(types)),
        actor=None,
    )


def inbound(integration: APIClient, body: str, external_id: str) -> None:
    response = integration.post(
        "/api/v1/messages/inbound/",
        {
            "contact": {"external_id": "c-1001", "name": "Ada Lovelace", "phone": "+447700900123"},
            "channel": "sms",
            "body": body,
            "external_id": external_id,
        },
        format="json",
    )
    assert response.status_code == 202, response.content


def test_a_contacts_message_and_a_reps_reply_are_announced(
    org: Org, integration: APIClient, send_signal: Any, fake_server: FakeServer
) -> None:
    subscribe(fake_server.url, "message.*")
    send_signal()
    inbound(integration, "Tuesday at 3 works", "SM-1")
    handoff = Handoff.objects.get()
    handoff_reply(handoff_id=handoff.pk, user=org.users["sam"], body="See you then")

    events = [r.json() for r in fake_server.requests]
    received = [e for e in events if e["type"] == "message.received"]
    sent = [e for e in events if e["type"] == "message.sent"]
    assert [e["data"]["body"] for e in received] == ["Tuesday at 3 works"]
    assert received[0]["data"]["external_id"] == "SM-1"
    assert any(e["data"]["body"].startswith("See you then") for e in sent)
    reply = next(e for e in sent if e["data"]["body"].startswith("See you then"))
    assert reply["data"]["delivery"]["status"] == "sent"
    assert reply["data"]["author"]["username"] == "sam"


def test_a_duplicate_inbound_message_is_announced_once(
    org: Org, integration: APIClient, fake_server: FakeServer
) -> None:
    subscribe(fake_server.url, "message.received")
    inbound(integration, "Hello", "SM-2")
    inbound(integration, "Hello", "SM-2")
    assert len(fake_server.requests) == 1


def test_an_invalid_number_fails_at_once_and_is_announced(
    org: Org, settings: Any, fake_server: FakeServer, integration: APIClient
) -> None:
    twilio = fakes.FakeServer().start()
    try:
        settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
        settings.TWILIO_AUTH_TOKEN = "token"
        settings.TWILIO_SMS_FROM = "+447700900999"
        settings.TWILIO_API_BASE_URL = twilio.url
        settings.BATON_CHANNEL_BACKENDS = {
            **settings.BATON_CHANNEL_BACKENDS,
            "sms": "handoffs.channels.TwilioBackend",
        }
        refusal = {"code": 21211, "message": "The 'To' number is not valid.", "status": 400}
        twilio.default = Answer(400, json.dumps(refusal), {"Content-Type": "application/json"})
        subscribe(fake_server.url, "message.failed")
        body = signal_body(external_id="c-2", key="k2")
        del body["contact"]["email"]  # no email: the reply goes out by SMS
        assert integration.post("/api/v1/signals/", body, format="json").status_code == 202
        handoff = Handoff.objects.get()
        handoff_reply(handoff_id=handoff.pk, user=org.users["sam"], body="Hello Ada")

        entry = OutboxEntry.objects.get(message__body__startswith="Hello Ada")
        assert (entry.status, entry.attempts) == (OutboxStatus.FAILED, 1)
        assert entry.last_error.startswith("Twilio 400 error 21211")
        [failed] = [r.json() for r in fake_server.requests]
        assert failed["type"] == "message.failed"
        assert failed["data"]["delivery"]["error"].startswith("Twilio 400 error 21211")
    finally:
        twilio.stop()
