"""Channel backends the outbox delivers through. Each returns a provider message id or raises
DeliveryError. Email goes through Django's mailer; SMS and WhatsApp through Twilio's SDK
(`TwilioBackend`); the demo and tests default to `LocalBackend` (nothing leaves the machine).
Which backend serves which channel: BATON_CHANNEL_BACKENDS (docs/operations.md)."""

from __future__ import annotations

import logging
import re
import smtplib
from email.utils import formataddr, parseaddr
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, mailers
from django.core.validators import validate_email
from django.utils.module_loading import import_string
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from handoffs.choices import Channel, Direction
from handoffs.models import Message, OutboxEntry
from handoffs.payloads import display_name
from portal.integrations.reply_tokens import reply_address

log = logging.getLogger("baton.outbox")


class DeliveryError(Exception):
    """A send that did not happen, with the reason shown on the message. `permanent`: retrying
    cannot help (an invalid number, an unsubscribed recipient) — fail it now."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


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


class ChatBackend:
    """The chat widget's channel (portal/integrations/chat.py): the contact's page shows every
    chat message whose outbox row is sent, on its next poll — so marking it sent is the
    delivery. Nothing leaves the machine; the row records when it became visible."""

    name = "chat"

    def send(self, entry: OutboxEntry) -> str:
        if entry.channel != Channel.CHAT:
            raise DeliveryError(f"the chat backend delivers chat only, not {entry.channel}")
        return f"chat-{entry.pk}"


MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")


class EmailBackend:
    """Email through Django's default mailer (settings.MAILERS): SMTP in production, files under
    var/mail in dev, locmem in tests. Transport failures become DeliveryError, so the outbox
    retries them with back-off and shows the reason."""

    name = "email"

    def send(self, entry: OutboxEntry) -> str:
        email = email_for(entry)
        connection = mailers.default
        where = f" ({connection.host}:{connection.port})" if hasattr(connection, "host") else ""
        try:
            with connection:
                sent = connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(
                f"{address} ({code} {_text(reason)})"
                for address, (code, reason) in exc.recipients.items()
            )
            raise DeliveryError(f"recipient refused: {refused}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login refused{where}: {_smtp_reason(exc)}") from exc
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP error{where}: {_smtp_reason(exc)}") from exc
        except OSError as exc:  # refused, timed out, DNS, TLS: SMTPException is an OSError too
            raise DeliveryError(f"mail server unreachable{where}: {exc.strerror or exc}") from exc
        if not sent:
            raise DeliveryError("the mailer accepted no message")
        return email.extra_headers["Message-ID"]


def email_for(entry: OutboxEntry) -> EmailMessage:
    """The email for an outbox entry, addressed to the address it was queued for."""
    if not entry.to_address:
        raise DeliveryError("no email address to send to")
    try:
        validate_email(entry.to_address)
    except ValidationError:
        raise DeliveryError(f"not a valid email address: {entry.to_address!r}") from None
    message = entry.message
    headers = {"Message-ID": message_id_for(message)}
    if message.automated:
        headers["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    if parent := _last_inbound_message_id(message):
        headers["In-Reply-To"] = parent
        headers["References"] = parent
    return EmailMessage(
        subject=_subject(message),
        body=message.body,
        from_email=_sender(message),
        to=[entry.to_address],
        # A per-conversation reply address when BATON_EMAIL_REPLY_ADDRESS is set (threads a
        # reply even if the mail client drops In-Reply-To), else the configured Reply-To.
        reply_to=[address]
        if (address := reply_address(message.conversation_id))
        else list(settings.BATON_EMAIL_REPLY_TO),
        headers=headers,
    )


def message_id_for(message: Message) -> str:
    """Derived from the message, not random: a retry after the server accepted a send whose
    reply we lost carries the same id, so the recipient's mail system can drop the duplicate."""
    stamp = message.created_at.strftime("%Y%m%d%H%M%S.%f")
    return f"<{stamp}.{message.pk}.baton@{settings.BATON_EMAIL_DOMAIN}>"


def _sender(message: Message) -> str:
    """A person's reply shows their name ("Riley Reed via Baton") on the shared address."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if message.author is not None and not message.automated:
        person = " ".join(display_name(message.author).split())
        name = f"{person} via {name or 'Baton'}"
    return formataddr((name, address), charset="utf-8")


def _subject(message: Message) -> str:
    subject = message.subject
    if not subject:
        first = (
            Message.objects.filter(
                conversation_id=message.conversation_id, channel=Channel.EMAIL, pk__lt=message.pk
            )
            .exclude(subject="")
            .order_by("created_at", "id")
            .values_list("subject", flat=True)
            .first()
        )
        if first:
            subject = first if first.lower().startswith("re:") else f"Re: {first}"
    return " ".join(subject.split()) or settings.BATON_EMAIL_DEFAULT_SUBJECT


def _last_inbound_message_id(message: Message) -> str | None:
    """Thread under the contact's last email to us, when its id is a Message-ID."""
    last = (
        Message.objects.filter(
            conversation_id=message.conversation_id,
            direction=Direction.IN,
            channel=Channel.EMAIL,
            external_id__isnull=False,
            pk__lt=message.pk,
        )
        .order_by("-created_at", "-id")
        .values_list("external_id", flat=True)
        .first()
    )
    return last if last and MESSAGE_ID.fullmatch(last) else None


def _smtp_reason(exc: smtplib.SMTPException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def _text(reason: bytes | str) -> str:
    text = reason.decode(errors="replace") if isinstance(reason, bytes) else reason
    return " ".join(text.split())


# Twilio error codes no retry can fix (twilio.com/docs/api/errors): the number is invalid,
# unreachable by this channel, or the recipient unsubscribed (STOP); the body is too long.
TWILIO_PERMANENT_CODES = frozenset(
    {21211, 21214, 21217, 21407, 21408, 21610, 21612, 21614, 21617, 63003, 63024}
)
PHONE = re.compile(r"\+?[1-9]\d{6,14}")
WHATSAPP = "whatsapp:"


class TwilioBaseUrlClient(TwilioHttpClient):
    """The SDK's HTTP client, sending what it would send to api.twilio.com to
    TWILIO_API_BASE_URL instead (a local fake in tests, a regional edge or a proxy)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        if self.base_url and parts.hostname and parts.hostname.endswith("twilio.com"):
            url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, url, *args, **kwargs)


def twilio_client() -> TwilioClient:
    if not settings.TWILIO_ACCOUNT_SID or not settings.TWILIO_AUTH_TOKEN:
        raise DeliveryError("Twilio is not set up: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
    http = TwilioBaseUrlClient(settings.TWILIO_API_BASE_URL, settings.TWILIO_TIMEOUT_SECONDS)
    return TwilioClient(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)


class TwilioBackend:
    """SMS and WhatsApp through Twilio's Messages API with the official SDK; the message SID is
    the provider id. WhatsApp addresses carry Twilio's `whatsapp:` prefix on both ends. Errors
    keep Twilio's code and text: invalid or unsubscribed recipients fail for good, anything
    else (rate limits, outages, credentials) is retried by the outbox."""

    name = "twilio"

    def send(self, entry: OutboxEntry) -> str:
        params = twilio_params(entry)
        try:
            message = twilio_client().messages.create(**params)
        except TwilioRestException as exc:
            raise DeliveryError(
                f"Twilio {exc.status} error {exc.code}: {_twilio_reason(exc)}",
                permanent=exc.code in TWILIO_PERMANENT_CODES,
            ) from exc
        except (TwilioException, requests.RequestException) as exc:
            raise DeliveryError(f"Twilio unreachable: {exc}") from exc
        return str(message.sid)


def _twilio_reason(exc: TwilioRestException) -> str:
    """Twilio's own words, without the SDK's "Unable to create record:" preamble."""
    return _text(str(exc.msg)).removeprefix("Unable to create record: ")


def twilio_params(entry: OutboxEntry) -> dict[str, str]:
    """What `messages.create` gets: to, from (or the Messaging Service) and the body."""
    whatsapp = entry.channel == Channel.WHATSAPP
    number = entry.to_address.strip().removeprefix(WHATSAPP)
    number = re.sub(r"[\s().-]", "", number)
    if not PHONE.fullmatch(number):
        raise DeliveryError(f"not a phone number: {entry.to_address!r}", permanent=True)
    if not number.startswith("+"):
        number = "+" + number
    params = {"to": f"{WHATSAPP}{number}" if whatsapp else number, "body": entry.message.body}
    sender = settings.TWILIO_WHATSAPP_FROM if whatsapp else settings.TWILIO_SMS_FROM
    if sender:
        params["from_"] = WHATSAPP + sender.removeprefix(WHATSAPP) if whatsapp else sender
    elif settings.TWILIO_MESSAGING_SERVICE_SID:
        params["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
    else:
        which = "TWILIO_WHATSAPP_FROM" if whatsapp else "TWILIO_SMS_FROM"
        raise DeliveryError(f"no Twilio sender: set {which} or TWILIO_MESSAGING_SERVICE_SID")
    return params


def backend_for(channel: str) -> ChannelBackend:
    path = settings.BATON_CHANNEL_BACKENDS.get(channel)
    if not path:
        raise DeliveryError(f"no backend configured for channel {channel!r}")
    return import_string(path)()
