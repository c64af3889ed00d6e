"""Channel backends the outbox delivers through. Each returns a provider message id or raises
DeliveryError. Real providers (SMTP, Twilio, chat widget) arrive with the integrations issue."""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from handoffs.models import OutboxEntry

log = logging.getLogger("baton.outbox")


class DeliveryError(Exception):
    pass


class ChannelBackend(Protocol):
    name: str

    def send(self, entry: OutboxEntry) -> str: ...


class LocalBackend:
    """Dev and test delivery: nothing leaves the machine. The outbox row itself is the record of
    what was sent (status, time, this backend's id), and the portal shows it under the message."""

    name = "local"

    def send(self, entry: OutboxEntry) -> str:
        log.info("local %s to %s: %s", entry.channel, entry.to_address, entry.message.body[:80])
        return f"local-{entry.pk}"


def backend_for(channel: str) -> ChannelBackend:
    path = settings.BATON_CHANNEL_BACKENDS.get(channel)
    if not path:
        raise DeliveryError(f"no backend configured for channel {channel!r}")
    return import_string(path)()
