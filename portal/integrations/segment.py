"""The Segment (and RudderStack) HTTP Tracking API, so their SDKs and relays send Baton signals
unchanged: `/v1/batch` (`/v1/b`), `/v1/track` (`/v1/t`), `/v1/identify` (`/v1/i`),
`/v1/page` (`/v1/p`), `/v1/screen` (`/v1/s`), `/v1/group` (`/v1/g`), `/v1/alias` (`/v1/a`).

Each event becomes one signal through `journeys.ingestion.signal_ingest_batch` (the one ingest
path): `messageId` is its idempotency key (per write key), `userId` (else
`anonymous:<anonymousId>`) the contact's external id, traits fill the contact's fields. The
mapping, field by field, is in docs/integrations.md. Errors name Segment's fields, not ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from journeys.api.serializers import signal_validator
from journeys.ingestion import BatchResult, body_hash, signal_ingest_batch
from portal.errors import flatten_errors
from portal.integrations.naming import EventNameError, signal_type_for
from portal.models import ApiKey

EVENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")
MAX_BATCH = 1000
ANONYMOUS_PREFIX = "anonymous:"

# Traits that become contact fields (the rest of an identify's traits are kept as properties).
NAME_TRAITS = ("firstName", "first_name", "lastName", "last_name")
CONTACT_TRAITS = ("email", "phone", "name", "timezone", "company", *NAME_TRAITS)
# Names of Baton's fields in the sender's terms, for error messages.
FIELD_NAMES = {
    "idempotency_key": "messageId",
    "occurred_at": "timestamp",
    "contact.external_id": "userId",
}


class EventError(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Translated:
    """A Baton signal body, and where each of its fields came from in the Segment event."""

    data: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)


def _text_id(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EventError({name: ["Expected text."]})
    text = str(value).strip()
    if len(text) > 200:
        raise EventError({name: ["At most 200 characters."]})
    return text or None


def _object(event: Mapping[str, Any], key: str, name: str | None = None) -> dict[str, Any]:
    value = event.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError({name or key: ["Expected a JSON object."]})
    return value


def _full_name(traits: Mapping[str, Any]) -> Any:
    """`name`, else `firstName` + `lastName` (or their snake_case spellings)."""
    if traits.get("name") not in (None, ""):
        return traits["name"]
    first = next((traits[k] for k in ("firstName", "first_name") if traits.get(k)), None)
    last = next((traits[k] for k in ("lastName", "last_name") if traits.get(k)), None)
    parts = [part for part in (first, last) if part is not None]
    if not parts:
        return None
    odd = [part for part in parts if not isinstance(part, str)]
    if odd:
        return odd[0]  # not text: the serializer refuses it and says why
    return " ".join(part.strip() for part in parts)


def _account(company: Any, source: str, out: Translated) -> None:
    if company in (None, ""):
        return
    if isinstance(company, str):
        out.data["account"] = {"external_id": company.strip()[:200], "name": company.strip()}
        out.sources.update({"account.external_id": source, "account.name": source})
        return
    if not isinstance(company, dict):
        raise EventError({source: ["Expected a company name or an object with id and name."]})
    company_id = _text_id(company.get("id"), f"{source}.id") or company.get("name")
    if not company_id:
        raise EventError({source: ["A company needs an id or a name."]})
    account = {"external_id": company_id}
    if company.get("name") is not None:
        account["name"] = company["name"]
    out.data["account"] = account
    out.sources.update({"account.external_id": f"{source}.id", "account.name": f"{source}.name"})


def translate(event: Any, *, endpoint_type: str | None = None) -> Translated:
    """One Segment event → a Baton signal body (not yet validated). Raises EventError."""
    if not isinstance(event, dict):
        raise EventError({"non_field_errors": ["Expected a JSON object."]})
    kind = event.get("type", endpoint_type)
    if endpoint_type and kind != endpoint_type:
        raise EventError({"type": [f"This endpoint takes {endpoint_type} events."]})
    if kind not in EVENT_TYPES:
        raise EventError({"type": [f"Expected one of {', '.join(EVENT_TYPES)}."]})
    message_id = _text_id(event.get("messageId"), "messageId")
    if message_id is None:
        raise EventError({"messageId": ["Required: Baton stores each event once by its id."]})
    user_id = _text_id(event.get("userId"), "userId")
    anonymous_id = _text_id(event.get("anonymousId"), "anonymousId")
    if user_id is None and anonymous_id is None:
        raise EventError({"userId": ["Send userId or anonymousId."]})
    context = _object(event, "context")
    traits = _object(event, "traits") if kind == "identify" else {}
    if kind != "identify":
        traits = _object(context, "traits", "context.traits")
    traits_name = "traits" if kind == "identify" else "context.traits"

    out = Translated(data={"idempotency_key": message_id}, sources=dict(FIELD_NAMES))
    if user_id is None:
        out.sources["contact.external_id"] = "anonymousId"
    contact: dict[str, Any] = {"external_id": user_id or f"{ANONYMOUS_PREFIX}{anonymous_id}"}
    for name in ("email", "phone"):
        if traits.get(name) not in (None, ""):
            contact[name] = traits[name]
            out.sources[f"contact.{name}"] = f"{traits_name}.{name}"
    full_name = _full_name(traits)
    if full_name is not None:
        contact["name"] = full_name
        out.sources["contact.name"] = (
            f"{traits_name}.name" if traits.get("name") else f"{traits_name}.firstName/lastName"
        )
    zone = traits.get("timezone") or context.get("timezone")
    if zone not in (None, ""):
        contact["timezone"] = zone
        out.sources["contact.timezone"] = (
            f"{traits_name}.timezone" if traits.get("timezone") else "context.timezone"
        )
    out.data["contact"] = contact
    _account(traits.get("company"), f"{traits_name}.company", out)

    timestamp = event.get("timestamp") or event.get("originalTimestamp")
    if timestamp is not None:
        out.data["occurred_at"] = timestamp
        if not event.get("timestamp"):
            out.sources["occurred_at"] = "originalTimestamp"

    properties: dict[str, Any]
    if kind == "track":
        name = event.get("event")
        if not isinstance(name, str) or not name.strip():
            raise EventError({"event": ["Required: the event's name, e.g. 'Form Submitted'."]})
        try:
            out.data["type"] = signal_type_for(name)
        except EventNameError as exc:
            raise EventError({"event": [str(exc)]}) from None
        properties = dict(_object(event, "properties"))
    elif kind in ("page", "screen"):
        out.data["type"] = f"{kind}_viewed"
        properties = dict(_object(event, "properties"))
        for key in ("name", "category"):
            if event.get(key) not in (None, "") and key not in properties:
                properties[key] = event[key]
    elif kind == "identify":
        out.data["type"] = "identify"
        properties = {k: v for k, v in traits.items() if k not in CONTACT_TRAITS}
        out.sources["properties"] = "traits"
    elif kind == "group":
        out.data["type"] = "group"
        group_id = _text_id(event.get("groupId"), "groupId")
        if group_id is None:
            raise EventError({"groupId": ["Required for a group event."]})
        group_traits = _object(event, "traits")
        out.data["account"] = {"external_id": group_id}
        if group_traits.get("name") is not None:
            out.data["account"]["name"] = group_traits["name"]
        out.sources.update({"account.external_id": "groupId", "account.name": "traits.name"})
        properties = {k: v for k, v in group_traits.items() if k != "name"}
        out.sources["properties"] = "traits"
    else:  # alias: Baton does not merge contacts; the link is kept on the signal
        out.data["type"] = "alias"
        previous = _text_id(event.get("previousId"), "previousId")
        if previous is None:
            raise EventError({"previousId": ["Required for an alias event."]})
        properties = {"previous_id": previous}
    if properties:
        out.data["properties"] = properties
    return out


def _segment_names(
    errors: dict[str, list[str]], sources: Mapping[str, str]
) -> dict[str, list[str]]:
    return {sources.get(key, key): messages for key, messages in errors.items()}


def segment_ingest(
    *, api_key: ApiKey, events: list[Any], endpoint_type: str | None = None
) -> BatchResult:
    """Translate, validate and store a batch of events; good ones are kept when others fail.
    Errors are `{"index": i, "messageId": ..., "code": "invalid" | "conflict" (the messageId
    was used before for another event), "errors": {Segment field: [message]}}`."""
    validate = signal_validator()
    good: list[tuple[int, dict[str, Any], str]] = []
    errors: list[dict[str, Any]] = []
    sources: dict[int, Mapping[str, str]] = {}
    for index, event in enumerate(events):
        message_id = event.get("messageId") if isinstance(event, dict) else None
        try:
            translated = translate(event, endpoint_type=endpoint_type)
        except EventError as exc:
            errors.append(_error(index, message_id, exc.errors))
            continue
        data, problems = validate(translated.data)
        if problems:
            named = _segment_names(flatten_errors(problems), translated.sources)
            errors.append(_error(index, message_id, named))
            continue
        sources[index] = translated.sources
        good.append((index, data, body_hash(translated.data)))
    result = signal_ingest_batch(api_key=api_key, items=good) if good else BatchResult()
    for error in result.errors:  # a messageId reused with a different event
        event = events[error["index"]]
        named = _segment_names(error["errors"], sources.get(error["index"], {}))
        errors.append(_error(error["index"], event.get("messageId"), named, code="conflict"))
    result.errors = sorted(errors, key=lambda e: e["index"])
    return result


def _error(
    index: int, message_id: Any, errors: dict[str, list[str]], *, code: str = "invalid"
) -> dict[str, Any]:
    return {"index": index, "messageId": message_id, "code": code, "errors": errors}
