"""SMS and WhatsApp in, as Twilio posts them: form-encoded, signed with the account's auth token
(`X-Twilio-Signature`, checked by the twilio library's RequestValidator against the public URL
Twilio called), `MessageSid` as the idempotency key, `whatsapp:+44…` senders on the WhatsApp
channel. The contact is found by phone number (or made); the message goes to
`handoffs.services.message_receive`, and Twilio gets an empty TwiML `<Response/>` (the bot's
own answers leave through the outbox, not in this response)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from handoffs.api.serializers import MessageInSerializer
from handoffs.choices import Channel
from handoffs.services import InboundMessage, message_receive
from journeys.api.serializers import PHONE
from portal.errors import Conflict, InvalidInput, flatten_errors, json_error
from portal.integrations.contacts import phone_contact

security_log = logging.getLogger("baton.security")

SIGNATURE_HEADER = "X-Twilio-Signature"
WHATSAPP_PREFIX = "whatsapp:"
MAX_MEDIA = 10


def public_url(request: HttpRequest) -> str:
    """The URL Twilio signed: BATON_PUBLIC_URL + path and query when set (a proxy in front may
    change the scheme, host or port), else the URL as this server saw it."""
    if settings.BATON_PUBLIC_URL:
        return settings.BATON_PUBLIC_URL + request.get_full_path()
    return request.build_absolute_uri()


def signature_valid(request: HttpRequest) -> str | None:
    """None when the request is Twilio's, else why not."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token:
        return "SMS/WhatsApp in is off: TWILIO_AUTH_TOKEN is not set."
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return f"Missing {SIGNATURE_HEADER} header."
    if not RequestValidator(token).validate(public_url(request), request.POST, signature):
        return f"{SIGNATURE_HEADER} does not match this request (URL {public_url(request)})."
    return None


def inbound_from_twilio(params: QueryDict) -> InboundMessage:
    """Twilio's parameters → an InboundMessage; InvalidInput names the parameter at fault."""
    sid = (params.get("MessageSid") or params.get("SmsMessageSid") or "").strip()
    if not sid:
        raise InvalidInput("MessageSid is missing.", {"MessageSid": ["This field is required."]})
    sender = (params.get("From") or "").strip()
    channel, phone = Channel.SMS, sender
    if sender.lower().startswith(WHATSAPP_PREFIX):
        channel, phone = Channel.WHATSAPP, sender[len(WHATSAPP_PREFIX) :]
    if not PHONE.match(phone):
        raise InvalidInput(
            "From is not a phone number.",
            {"From": ["Expected +447700900123 or whatsapp:+447700900123."]},
        )
    body = "\n".join(part for part in [(params.get("Body") or "").strip(), *_media(params)] if part)
    if not body:
        raise InvalidInput("The message is empty.", {"Body": ["No text and no media."]})
    name = (params.get("ProfileName") or "").strip() if channel == Channel.WHATSAPP else ""
    data = {
        "contact": phone_contact(phone=phone, name=name),
        "channel": channel,
        "body": body,
        "external_id": sid,
    }
    serializer = MessageInSerializer(data=data)
    if not serializer.is_valid():
        errors = flatten_errors(serializer.errors)
        names = {"external_id": "MessageSid", "body": "Body", "contact.phone": "From"}
        raise InvalidInput(
            "Invalid input.", {names.get(key, key): value for key, value in errors.items()}
        )
    values = serializer.validated_data
    return InboundMessage(
        contact=dict(values["contact"]),
        account=None,
        channel=values["channel"],
        body=values["body"],
        external_id=values["external_id"],
    )


def _media(params: QueryDict) -> list[str]:
    """MMS / WhatsApp media as lines under the text: `[image/jpeg] https://api.twilio.com/…`."""
    try:
        count = min(int(params.get("NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        count = 0
    lines = []
    for index in range(max(count, 0)):
        url = (params.get(f"MediaUrl{index}") or "").strip()
        if url:
            kind = (params.get(f"MediaContentType{index}") or "attachment").strip()
            lines.append(f"[{kind[:60]}] {url[:500]}")
    return lines


def twiml_empty() -> HttpResponse:
    return HttpResponse(str(MessagingResponse()), content_type="text/xml; charset=utf-8")


def _error(status: int, exc: InvalidInput | Conflict) -> JsonResponse:
    body: dict[str, Any] = {"detail": exc.detail}
    if exc.errors:
        body["errors"] = exc.errors
    return JsonResponse(body, status=status)


@csrf_exempt
@require_POST
def twilio_messages(request: HttpRequest) -> HttpResponse:
    """Twilio's "A message comes in" webhook for SMS and WhatsApp numbers."""
    refused = signature_valid(request)
    if refused is not None:
        security_log.info("denied POST %s: %s", request.path, refused)
        return json_error(403, refused)
    try:
        message_receive(message=inbound_from_twilio(request.POST))
    except InvalidInput as exc:
        return _error(400, exc)
    except Conflict as exc:  # the same MessageSid with another text
        return _error(409, exc)
    return twiml_empty()
