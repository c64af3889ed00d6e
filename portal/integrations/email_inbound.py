"""Email in, through django-anymail's inbound webhooks (Mailgun, SendGrid, Postmark): anymail
checks the provider's basic auth and signature and parses its format into one
`AnymailInboundMessage`; this module threads it and hands it to `message_receive`.

Threading, first match wins: (1) a genuine per-conversation Reply-To token among the
recipients (reply_tokens.py); (2) `In-Reply-To`, then `References` newest first, naming a
Message-ID our outbound email set (handoffs/channels.py derives it from the message, so the id
is checked against the message it names) or an email we stored; (3) the sender's address, as
a known contact or a new `email:<address>` one. Quoted history is stripped with
mail-parser-reply. Auto-replies (RFC 3834 `Auto-Submitted`, out-of-office markers) are
acknowledged and dropped, so an away message neither wakes a journey nor raises a handoff.

The views call the service directly rather than through anymail's `inbound` signal: a signal
receiver's exception is a 500, which a provider retries for days, while bad input must be a 4xx
that stores nothing."""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from anymail.exceptions import (
    AnymailError,
    AnymailNotSupportedWarning,
    AnymailWebhookValidationFailure,
)
from anymail.inbound import AnymailInboundMessage
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.utils.html import strip_tags
from django.views.decorators.csrf import csrf_exempt
from mailparser_reply import EmailReplyParser

from handoffs.api.serializers import MessageInSerializer
from handoffs.channels import message_id_for
from handoffs.choices import Channel, Direction
from handoffs.models import Conversation, Message
from handoffs.services import InboundMessage, Received, message_receive
from handoffs.services.replies import MAX_REPLY_CHARS
from portal.errors import Conflict, InvalidInput, flatten_errors, json_error
from portal.integrations.contacts import email_contact
from portal.integrations.reply_tokens import conversation_from_addresses

log = logging.getLogger("baton.integrations")
security_log = logging.getLogger("baton.security")

REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "sv", "da", "pl"]
MAX_BODY = MAX_REPLY_CHARS  # what message_receive's API accepts; longer mail is cut, not lost
MAX_THREAD_IDS = 20
OUR_MESSAGE_ID = re.compile(r"<\d{14}\.\d{6}\.(?P<pk>\d{1,18})\.baton@[^<>\s@]+>")
ANY_MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")


def email_receive(*, message: AnymailInboundMessage) -> Received | None:
    """Store one inbound email in the right conversation; None when it was an auto-reply."""
    if is_auto_reply(message):
        log.info("inbound email %s ignored: an auto-reply", message.get("Message-ID"))
        return None
    sender = message.from_email
    if isinstance(sender, list):  # several From addresses (legal, rare): the first wrote it
        sender = sender[0]
    if sender is None or not sender.addr_spec:
        raise InvalidInput("The email has no From address.", {"from": ["Missing."]})
    conversation_id = thread_conversation_id(message)
    contact = _conversation_contact(conversation_id) if conversation_id else None
    if contact is None:
        contact = email_contact(email=sender.addr_spec, name=sender.display_name or "")
    data = {
        "contact": contact,
        "channel": Channel.EMAIL,
        "body": reply_text(message),
        "external_id": external_id_for(message),
    }
    serializer = MessageInSerializer(data=data)
    if not serializer.is_valid():
        errors = flatten_errors(serializer.errors)
        names = {"contact.email": "from", "contact.name": "from", "external_id": "Message-ID"}
        raise InvalidInput(
            "Invalid email.", {names.get(key, key): value for key, value in errors.items()}
        )
    values = serializer.validated_data
    subject = " ".join((message.subject or "").split())[:200]
    with transaction.atomic():
        received = message_receive(
            message=InboundMessage(
                contact=dict(values["contact"]),
                account=None,
                channel=Channel.EMAIL,
                body=values["body"],
                external_id=values["external_id"],
            )
        )
        if subject and not received.duplicate:
            # Our replies take "Re: <this subject>" (handoffs/channels.py), so the contact's
            # mail client threads them too.
            Message.objects.filter(pk=received.id).update(subject=subject)
    return received


def is_auto_reply(message: AnymailInboundMessage) -> bool:
    submitted = (message.get("Auto-Submitted") or "no").strip().lower()
    precedence = (message.get("Precedence") or "").strip().lower()
    return (
        submitted != "no"
        or precedence in {"auto_reply", "bulk", "junk"}
        or message.get("X-Autoreply") is not None
        or message.get("X-Autorespond") is not None
    )


def message_ids(header: str | None) -> list[str]:
    return ANY_MESSAGE_ID.findall(header or "")


def thread_conversation_id(message: AnymailInboundMessage) -> int | None:
    """The conversation this email answers, by Reply-To token, then by thread headers."""
    recipients = [address.addr_spec for address in [*message.to, *message.cc]]
    if message.envelope_recipient:
        recipients.append(message.envelope_recipient)
    by_token = conversation_from_addresses(recipients)
    if by_token is not None:
        return by_token
    references = message_ids(message.get("References"))
    ids = [*message_ids(message.get("In-Reply-To")), *reversed(references)][:MAX_THREAD_IDS]
    return _conversation_by_message_ids(ids)


def _conversation_by_message_ids(ids: Iterable[str]) -> int | None:
    candidates = list(dict.fromkeys(ids))
    ours: dict[int, str] = {}
    for message_id in candidates:
        match = OUR_MESSAGE_ID.fullmatch(message_id)
        if match:
            ours.setdefault(int(match["pk"]), message_id)
    sent = {
        m.pk: m
        for m in Message.objects.filter(pk__in=ours, direction=Direction.OUT, channel=Channel.EMAIL)
    }
    stored = dict(
        Message.objects.filter(channel=Channel.EMAIL, external_id__in=candidates).values_list(
            "external_id", "conversation_id"
        )
    )
    for message_id in candidates:  # in the order the headers give them: the nearest first
        match = OUR_MESSAGE_ID.fullmatch(message_id)
        ours_ = sent.get(int(match["pk"])) if match else None
        # The id must be the one we set (its time stamp is in it), not just name the pk.
        if ours_ is not None and message_id_for(ours_).lower() == message_id.lower():
            return ours_.conversation_id
        if message_id in stored:
            return stored[message_id]
    return None


def _conversation_contact(conversation_id: int) -> dict[str, Any] | None:
    external_id = (
        Conversation.objects.filter(pk=conversation_id)
        .values_list("contact__external_id", flat=True)
        .first()
    )
    return {"external_id": external_id} if external_id else None


def reply_text(message: AnymailInboundMessage) -> str:
    """The new part of the email: quoted history and signatures stripped, HTML turned to text
    when there is no text part, the subject when there is no body at all."""
    text = message.text or ""
    if not text.strip() and message.html:
        text = html_to_text(message.html)
    latest = (EmailReplyParser(languages=REPLY_LANGUAGES).parse_reply(text) or "").strip()
    body = latest or text.strip() or (message.subject or "").strip() or "(an email with no text)"
    if len(body) > MAX_BODY:
        body = body[: MAX_BODY - 1].rstrip() + "…"
    return body


def html_to_text(markup: str) -> str:
    with_breaks = re.sub(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6])\s*/?>", "\n", markup)
    text = html.unescape(strip_tags(with_breaks))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def external_id_for(message: AnymailInboundMessage) -> str:
    """The Message-ID (a repeat delivery carries the same one), else a hash of the message."""
    found = message_ids(message.get("Message-ID"))
    if found and len(found[0]) <= 200:
        return found[0]
    digest = hashlib.sha256(message.as_bytes()).hexdigest()
    return f"sha256:{digest}"


# --- the webhooks ------------------------------------------------------------------------------


class _BatonInbound:
    """Mixed in before an anymail inbound view: anymail validates and parses; Baton stores."""

    refuse_status = 400

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        view: Any = self
        try:
            view.run_validators(request)
        except AnymailWebhookValidationFailure as exc:
            security_log.info("denied POST %s: %s", request.path, exc)
            return json_error(403, str(exc))
        try:
            events = view.parse_events(request)
        except (AnymailError, KeyError, ValueError, TypeError) as exc:
            return json_error(self.refuse_status, f"Not a {view.esp_name} inbound email: {exc}")
        try:
            with transaction.atomic():  # a provider's batch is kept whole or not at all
                results = [email_receive(message=event.message) for event in events]
        except InvalidInput as exc:
            return JsonResponse(
                {"detail": exc.detail, "errors": exc.errors}, status=self.refuse_status
            )
        except Conflict as exc:
            return json_error(409, exc.detail)
        stored = [r for r in results if r is not None]
        return JsonResponse(
            {
                "ids": [str(r.id) for r in stored],
                "duplicates": sum(r.duplicate for r in stored),
                "ignored": len(results) - len(stored),
            }
        )


class MailgunInbound(_BatonInbound, MailgunInboundWebhookView):
    refuse_status = 406  # Mailgun retries any other error for 8 hours; 406 tells it to stop


class _FormAlreadyRead:
    """The request with `body` answering b"" once the form has been parsed.

    RequestSanityMiddleware scans every form for NUL characters before a view runs, which
    consumes a multipart stream; anymail's SendGrid parser touches `request.body` first and
    needs it only to re-decode text/html that SendGrid declares in a charset other than
    UTF-8 (then the fields stay as Django decoded them, with a warning)."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)

    @property
    def body(self) -> bytes:
        try:
            return self._request.body
        except RawPostDataException:
            return b""


class SendGridInbound(_BatonInbound, SendGridInboundWebhookView):
    def __init__(self, **kwargs: Any) -> None:
        # Anymail warns on every request that SendGrid is community-supported; its inbound
        # parsing is unchanged and tested here against SendGrid's documented payload.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnymailNotSupportedWarning)
            super().__init__(**kwargs)

    def parse_events(self, request: HttpRequest) -> list[Any]:
        charsets = request.POST.get("charsets") or "{}"
        if any(c.lower() not in ("utf-8", "utf8") for c in _json_values(charsets)):
            log.warning("SendGrid email in a non-UTF-8 charset, kept as decoded: %s", charsets)
        return super().parse_events(_FormAlreadyRead(request))


def _json_values(raw: str) -> list[str]:
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    return [v for v in value.values() if isinstance(v, str)] if isinstance(value, dict) else []


class PostmarkInbound(_BatonInbound, PostmarkInboundWebhookView):
    pass


def _configured(names: Iterable[str]) -> list[str]:
    settings_names = {"WEBHOOK_SECRET": "ANYMAIL_WEBHOOK_SECRET"}
    return [settings_names.get(n, n) for n in names if not settings.ANYMAIL.get(n)]


def inbound_view(view_class: type[Any], *, requires: tuple[str, ...] = ()) -> Callable[..., Any]:
    """The provider's view, refusing everything (403) until its secrets are configured: an
    inbound address nobody authenticates would let anyone write into conversations."""
    provider = view_class.as_view()

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        missing = _configured(("WEBHOOK_SECRET", *requires))
        if missing:
            return json_error(403, f"Inbound email is off: set {', '.join(missing)}.")
        return provider(request, *args, **kwargs)

    return view


mailgun_inbound = inbound_view(MailgunInbound, requires=("MAILGUN_WEBHOOK_SIGNING_KEY",))
sendgrid_inbound = inbound_view(SendGridInbound)
postmark_inbound = inbound_view(PostmarkInbound)
