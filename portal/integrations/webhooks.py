"""Generic signed webhooks (Zapier, Make, n8n, HubSpot workflows): `POST /api/v1/hooks/<slug>/`
with any JSON body, signed per signing.py, becomes one signal through the usual ingest path.

A webhook's mapping (set in admin) names dotted paths into the payload — the same path syntax as
rule conditions (`journeys.rules.path_get`: `deal.amount`, `items.0.sku`). Every mapped path
must be present, except one ending in `?`. The contact is the external id at its path, else the
contact with the email / phone found there (or a new one).

Order of checks, so that nothing is stored for a refused request: the webhook exists and is
active (else 404), the signature and timestamp hold (401), the delivery was not seen before
(409), the body is JSON and the mapping finds what it needs (400); then the delivery record
and the signal are stored in one transaction."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.api.serializers import signal_validator
from journeys.ingestion import body_hash, signal_ingest
from journeys.rules import path_get
from portal.api_fields import json_depth
from portal.api_schema import error_responses
from portal.errors import Conflict, DomainError, InvalidInput, flatten_errors
from portal.integrations.contacts import email_contact, phone_contact
from portal.integrations.models import InboundWebhook, WebhookDelivery
from portal.integrations.naming import EventNameError, signal_type_for
from portal.integrations.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify,
)

log = logging.getLogger("baton.integrations")

OPTIONAL = "?"
MAX_DELIVERY_ID = 200
MAX_PAYLOAD_DEPTH = 32


class Unauthorized(DomainError):
    status_code = 401


@dataclass
class Mapped:
    """A signal body made from a payload, or the reasons it could not be."""

    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    missing_optional: list[str] = field(default_factory=list)


def path_errors(path: str) -> str | None:
    """Why a mapping path cannot be used (admin validation), or None."""
    bare = path.removesuffix(OPTIONAL)
    if not bare:
        return "Empty path."
    if bare.startswith("$"):
        return "Use dotted paths like deal.amount (no $ or JSONPath)."
    if "" in bare.split("."):
        return f"Path {path!r} has an empty segment."
    return None


def _read(payload: Any, path: str, target: str, out: Mapped) -> tuple[bool, Any]:
    optional = path.endswith(OPTIONAL)
    bare = path.removesuffix(OPTIONAL)
    found, value = path_get(payload, bare) if isinstance(payload, Mapping) else (False, None)
    if found and value is not None:
        return True, value
    if optional:
        out.missing_optional.append(bare)
    else:
        out.errors[target] = [f"Path {bare!r} is missing from the payload."]
    return False, None


def map_payload(webhook: InboundWebhook, payload: Any) -> Mapped:
    """Apply the webhook's mapping to a payload (pure: reads, never writes)."""
    out = Mapped()
    if not isinstance(payload, dict):
        out.errors["payload"] = ["Expected a JSON object."]
        return out
    if webhook.type_path:
        found, name = _read(payload, webhook.type_path, "type", out)
        if found:
            try:
                out.data["type"] = signal_type_for(str(name))
            except EventNameError as exc:
                out.errors["type"] = [f"{webhook.type_path}: {exc}"]
    if "type" not in out.data and "type" not in out.errors:
        out.data["type"] = webhook.type_value

    contact: dict[str, Any] = {}
    for target, path in (
        ("external_id", webhook.external_id_path),
        ("email", webhook.email_path),
        ("phone", webhook.phone_path),
        ("name", webhook.name_path),
    ):
        if path:
            found, value = _read(payload, path, f"contact.{target}", out)
            if found:
                contact[target] = value if not isinstance(value, int | float) else str(value)
    account: dict[str, Any] = {}
    for target, path in (
        ("external_id", webhook.account_external_id_path),
        ("name", webhook.account_name_path),
    ):
        if path:
            found, value = _read(payload, path, f"account.{target}", out)
            if found:
                account[target] = value if not isinstance(value, int | float) else str(value)
    if account and "external_id" not in account:
        out.errors["account.external_id"] = ["An account needs an external id to be kept."]
    if webhook.occurred_at_path:
        found, value = _read(payload, webhook.occurred_at_path, "occurred_at", out)
        if found:
            out.data["occurred_at"] = value

    properties: dict[str, Any] = {}
    if webhook.properties_path:
        found, value = _read(payload, webhook.properties_path, "properties", out)
        if found and not isinstance(value, dict):
            out.errors["properties"] = [f"{webhook.properties_path!r} is not an object."]
        elif found:
            properties.update(value)
    for name, path in (webhook.property_paths or {}).items():
        found, value = _read(payload, path, f"properties.{name}", out)
        if found:
            properties[name] = value
    if properties:
        out.data["properties"] = properties
    if account:
        out.data["account"] = account
    if not out.errors:
        identified = _identify(contact)
        if identified is None:
            out.errors["contact"] = ["No external id, email or phone found for the contact."]
        else:
            out.data["contact"] = identified
    return out


def _identify(contact: dict[str, Any]) -> dict[str, Any] | None:
    """External id as given; else the contact behind the email, else the phone."""
    if contact.get("external_id"):
        return contact
    details = {k: v for k, v in contact.items() if k != "external_id"}
    for key, finder in (("email", email_contact), ("phone", phone_contact)):
        value = details.get(key)
        if isinstance(value, str) and value.strip():
            return {**details, "external_id": finder(**{key: value})["external_id"]}
    return None


def preview(webhook: InboundWebhook, payload: Any) -> Mapped:
    """The signal a payload would make, validated as the API validates it; stores nothing."""
    mapped = map_payload(webhook, payload)
    if mapped.errors:
        return mapped
    _data, problems = signal_validator()(mapped.data)
    if problems:
        mapped.errors.update(flatten_errors(problems))
    return mapped


def delivery_key(*, delivery_id: str | None, timestamp: str, body: bytes) -> str:
    """The sender's delivery id when it sends one; else what makes this signed request unique."""
    if delivery_id and delivery_id.strip():
        cleaned = delivery_id.strip()
        if len(cleaned) > MAX_DELIVERY_ID or not cleaned.isprintable():
            raise InvalidInput(
                "Invalid delivery id.",
                {"X-Baton-Delivery": [f"Printable text, at most {MAX_DELIVERY_ID} characters."]},
            )
        return f"id:{cleaned}"
    return "sig:" + hashlib.sha256(timestamp.strip().encode() + b"." + body).hexdigest()


@dataclass(frozen=True)
class Delivered:
    signal_id: int


def webhook_deliver(
    *,
    webhook: InboundWebhook,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    delivery_id: str | None,
) -> Delivered:
    """Verify, de-duplicate, map and store one delivery (see the module docstring for the
    order). Raises Unauthorized (401), Conflict (409, a replay) or InvalidInput (400)."""
    try:
        verify(
            secrets=webhook.active_secrets,
            timestamp=timestamp,
            signature=signature,
            body=body,
            tolerance=settings.BATON_WEBHOOK_TOLERANCE_SECONDS,
        )
    except SignatureError as exc:
        raise Unauthorized(str(exc)) from None
    assert timestamp is not None  # verify refused a missing one
    key = delivery_key(delivery_id=delivery_id, timestamp=timestamp, body=body)
    _refuse_replay(webhook, key)
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidInput("The body is not JSON.", {"body": ["Expected a JSON object."]}) from None
    if json_depth(payload, MAX_PAYLOAD_DEPTH) > MAX_PAYLOAD_DEPTH:
        raise InvalidInput("Too deep.", {"body": [f"Nested deeper than {MAX_PAYLOAD_DEPTH}."]})
    mapped = preview(webhook, payload)
    if mapped.errors:
        raise InvalidInput(_describe(mapped.errors), mapped.errors)
    data, _problems = signal_validator()(mapped.data)
    assert data is not None  # preview validated it
    try:
        with transaction.atomic():
            with transaction.atomic():  # its own savepoint: a concurrent copy fails here
                delivery = WebhookDelivery.objects.create(webhook=webhook, delivery_key=key)
            accepted = signal_ingest(api_key=None, data=data, raw_hash=body_hash(mapped.data))
            WebhookDelivery.objects.filter(pk=delivery.pk).update(signal_id=accepted.id)
    except IntegrityError:
        _refuse_replay(webhook, key)  # raises now: the concurrent copy has committed
        raise
    log.info("webhook %s delivery %s → signal %s", webhook.slug, key[:60], accepted.id)
    return Delivered(signal_id=accepted.id)


def _refuse_replay(webhook: InboundWebhook, key: str) -> None:
    seen = WebhookDelivery.objects.filter(webhook=webhook, delivery_key=key).first()
    if seen is not None:
        raise Conflict(
            f"This delivery was already received (signal {seen.signal_id}); nothing was changed."
        )


def _describe(errors: Mapping[str, list[str]]) -> str:
    first, messages = next(iter(errors.items()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"The payload does not fit this webhook's mapping: {first}: {' '.join(messages)}{more}"


# --- HTTP --------------------------------------------------------------------------------------


class WebhookView(APIView):
    """`POST /api/v1/hooks/<slug>/`: authenticated by its signature, not by an API key."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(TIMESTAMP_HEADER, str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                SIGNATURE_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="v1=<hex HMAC-SHA256 of timestamp + '.' + raw body>",
            ),
            OpenApiParameter(DELIVERY_HEADER, str, OpenApiParameter.HEADER),
        ],
        responses={
            202: inline_serializer(
                "WebhookAccepted",
                {"id": serializers.CharField(), "duplicate": serializers.BooleanField()},
            ),
            # Authenticated by its signature (401), so never a 403; not rate-limited per key.
            **error_responses(404, 409, common=(400, 401, 413)),
        },
        summary="A signed webhook (Zapier, Make, n8n, HubSpot) mapped into a signal",
    )
    def post(self, request: Request, slug: str) -> Response:
        webhook = InboundWebhook.objects.filter(slug=slug, is_active=True).first()
        if webhook is None:
            raise NotFound()
        delivered = webhook_deliver(
            webhook=webhook,
            body=request.body,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            delivery_id=request.headers.get(DELIVERY_HEADER),
        )
        return Response(
            {"id": str(delivered.signal_id), "duplicate": False}, status=status.HTTP_202_ACCEPTED
        )
