"""Delivering outbound work: webhooks to subscribers, and Slack / Teams notifications, from one
table (OutboundDelivery) by one task (portal/integrations/tasks.py).

Each delivery is persisted before anything is sent. A worker sends it only while holding its
lease (a compare-and-swap, like the message outbox in handoffs/outbox.py); the lease outlasts
the HTTP timeout, so a slow receiver is never called by a second worker meanwhile, and the lease
value is the holder's token, so a worker whose lease expired cannot record a result over the new
holder's. A 2xx marks it delivered and nothing sends it again; anything else retries with
exponential back-off and jitter, and after BATON_OUTBOUND_MAX_ATTEMPTS it is a dead letter that
ops may redeliver — with the same delivery id.

At least once, not exactly once: a worker that dies after the receiver answered 2xx but before
the mark is written leaves the delivery to the sweep, which sends it again once the lease
expires. The `X-Baton-Delivery` id is the same on every attempt, so a receiver that remembers
the ids it processed drops the copy (docs/integrations.md)."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.integrations.outbound_models import (
    DUE_STATUSES,
    DeliveryKind,
    DeliveryStatus,
    OutboundDelivery,
)
from portal.integrations.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_header,
    signed_headers,
)
from portal.outage import retry_while_unreachable

log = logging.getLogger("baton.outbound")
audit_log = logging.getLogger("baton.audit")

EVENT_HEADER = "X-Baton-Event"
ATTEMPT_HEADER = "X-Baton-Attempt"
USER_AGENT = "Baton-Webhooks/1"
# Receivers we never retry: the address is gone for good (410), or Slack/Teams said the hook was
# revoked or the channel archived — retrying cannot succeed, a person must fix the config.
PERMANENT_STATUSES = frozenset({410})
MAX_RETRY_AFTER_SECONDS = 3600


@dataclass(frozen=True)
class Attempt:
    """What one send came to. `retry_after`: the receiver asked us to wait (429 Retry-After)."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None


def lease_seconds() -> int:
    """Longer than any send can take (connect + read timeouts, plus margin)."""
    return 2 * settings.BATON_OUTBOUND_TIMEOUT_SECONDS + 30


def delivery_claim(*, delivery_pk: int) -> OutboundDelivery | None:
    """Take the lease on a due delivery. Race prevented: the task and the sweep (or a task
    delivered twice by the broker) both picking it up; only the one whose compare-and-swap
    matches may send."""
    now = timezone.now()
    won = (
        OutboundDelivery.objects.filter(
            pk=delivery_pk, status__in=DUE_STATUSES, next_attempt_at__lte=now
        )
        # Only a sending delivery's lease is a worker's; on a pending or retrying one it is the
        # sweep's hand-over mark (outbound_sweep), and any task may claim it.
        .filter(~Q(status=DeliveryStatus.SENDING) | ~Q(lease_until__gt=now))
        .update(
            status=DeliveryStatus.SENDING,
            lease_until=now + timedelta(seconds=lease_seconds()),
            last_attempt_at=now,
        )
    )
    if won != 1:
        return None
    return OutboundDelivery.objects.select_related("subscription", "channel").get(pk=delivery_pk)


def delivery_mark_delivered(*, delivery: OutboundDelivery, status_code: int | None) -> bool:
    """Record success; False when the lease was lost meanwhile (the new holder records)."""
    return bool(
        OutboundDelivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.SENDING, lease_until=delivery.lease_until
        ).update(
            status=DeliveryStatus.DELIVERED,
            attempts=delivery.attempts + 1,
            lease_until=None,
            delivered_at=timezone.now(),
            last_status_code=status_code,
            last_error="",
        )
    )


def retry_delay(attempts: int, *, retry_after: float | None = None) -> float:
    """Exponential back-off with "equal jitter": after the n-th failed attempt wait between half
    and all of base · 2^(n-1), capped — so receivers coming back from an outage are not hit by
    every delivery at the same second. A receiver's Retry-After is honoured (up to an hour)."""
    base = settings.BATON_OUTBOUND_RETRY_BASE_SECONDS
    ceiling = min(settings.BATON_OUTBOUND_RETRY_MAX_SECONDS, base * 2 ** max(attempts - 1, 0))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def delivery_mark_failed(*, delivery: OutboundDelivery, attempt: Attempt) -> DeliveryStatus:
    """Back off and retry, or — after the last attempt, or a permanent refusal — dead letter."""
    attempts = delivery.attempts + 1
    dead = attempt.permanent or attempts >= settings.BATON_OUTBOUND_MAX_ATTEMPTS
    status = DeliveryStatus.DEAD if dead else DeliveryStatus.RETRYING
    delay = retry_delay(attempts, retry_after=attempt.retry_after)
    OutboundDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.SENDING, lease_until=delivery.lease_until
    ).update(
        status=status,
        attempts=attempts,
        lease_until=None,
        last_status_code=attempt.status_code,
        last_error=attempt.error[:500],
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    if dead:
        log.warning(
            "outbound delivery %s (%s) is a dead letter after %s attempt(s): %s",
            delivery.delivery_id,
            delivery.event_type,
            attempts,
            attempt.error,
        )
    return status


@transaction.atomic
def deliveries_redeliver(*, pks: list[int], actor: Any) -> list[int]:
    """Send dead letters again: the same delivery id and body, a fresh set of attempts. Only
    dead ones — a delivered one is never sent again, one still retrying is on its way."""
    now = timezone.now()
    revived = list(
        OutboundDelivery.objects.select_for_update()
        .filter(pk__in=pks, status=DeliveryStatus.DEAD)
        .values_list("pk", flat=True)
    )
    for pk in revived:
        OutboundDelivery.objects.filter(pk=pk, status=DeliveryStatus.DEAD).update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            last_error="",
            redeliveries=F("redeliveries") + 1,
        )
    if revived:
        from portal.integrations.tasks import outbound_deliver  # tasks import this module

        audit_log.info(
            "outbound deliveries redelivered: %s by user=%s", revived, getattr(actor, "pk", None)
        )
        transaction.on_commit(lambda: [outbound_deliver.delay(pk) for pk in revived], robust=True)
    return revived


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact, key-sorted, UTF-8 — the same on every
    attempt, so a receiver may also hash the body to dedupe."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def webhook_request(delivery: OutboundDelivery, *, now: float | None = None) -> tuple[bytes, dict]:
    """Body and headers for a webhook delivery, signed with every active secret of the
    subscriber (both during a rotation), exactly as inbound webhooks are verified."""
    subscription = delivery.subscription
    assert subscription is not None
    body = body_bytes(delivery.payload)
    headers = signed_headers(subscription.secret, body, now=now)
    timestamp = headers[TIMESTAMP_HEADER]
    headers[SIGNATURE_HEADER] = ",".join(
        signature_header(secret, timestamp, body) for secret in subscription.active_secrets
    )
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            DELIVERY_HEADER: str(delivery.delivery_id),
            EVENT_HEADER: delivery.event_type,
            ATTEMPT_HEADER: str(delivery.attempts + 1),
        }
    )
    return body, headers


def send_webhook(delivery: OutboundDelivery) -> Attempt:
    body, headers = webhook_request(delivery)
    url = delivery.subscription.url if delivery.subscription else ""
    try:
        with httpx.Client(
            timeout=settings.BATON_OUTBOUND_TIMEOUT_SECONDS, follow_redirects=False
        ) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        seconds = settings.BATON_OUTBOUND_TIMEOUT_SECONDS
        return Attempt(ok=False, error=f"{_host(url)} timed out after {seconds} s")
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        return Attempt(ok=False, error=f"could not reach {_host(url)}: {reason}")
    return attempt_from_http(response.status_code, response.text, response.headers)


def attempt_from_http(status: int, text: str, headers: Any) -> Attempt:
    if 200 <= status < 300:
        return Attempt(ok=True, status_code=status)
    snippet = " ".join((text or "").split())[:200]
    return Attempt(
        ok=False,
        status_code=status,
        error=f"HTTP {status}" + (f": {snippet}" if snippet else ""),
        permanent=status in PERMANENT_STATUSES,
        retry_after=_retry_after(headers.get("Retry-After")) if headers is not None else None,
    )


def _retry_after(raw: str | None) -> float | None:
    if raw is None or not raw.strip().isdigit():
        return None
    return float(raw.strip())


def _host(url: str) -> str:
    return httpx.URL(url).host or url


def delivery_send(delivery: OutboundDelivery) -> Attempt:
    """Slow I/O: called outside any transaction, while holding the lease."""
    if delivery.kind == DeliveryKind.WEBHOOK:
        return send_webhook(delivery)
    from portal.integrations.notifications import send_notification

    return send_notification(delivery)


def deliver(*, delivery_pk: int) -> str:
    """Deliver one. Safe to run twice (or at once): only the lease holder sends."""
    delivery = delivery_claim(delivery_pk=delivery_pk)
    if delivery is None:
        return "skipped"
    try:
        attempt = delivery_send(delivery)
    except Exception as exc:  # a bug or an SDK surprise: retried and shown, never lost
        log.exception("outbound delivery %s crashed", delivery.delivery_id)
        attempt = Attempt(ok=False, error=f"{type(exc).__name__}: {exc}")
    if attempt.ok:
        # Sent: record it even across a short database outage (else the sweep sends it again).
        retry_while_unreachable(
            lambda: delivery_mark_delivered(delivery=delivery, status_code=attempt.status_code),
            until=delivery.lease_until,
        )
        return "delivered"
    return str(delivery_mark_failed(delivery=delivery, attempt=attempt))
