"""Channel backends the outbox delivers through. Each returns a provider message id or raises
DeliveryError. Email goes through Django's mailer; SMS, WhatsApp and chat providers arrive with
the integrations issue."""

from __future__ import annotations

import logging
import re
import smtplib
from email.utils import formataddr, parseaddr
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, mailers
from django.core.validators import validate_email
from django.utils.module_loading import import_string

from handoffs.choices import Channel, Direction
from handoffs.models import Message, OutboxEntry
from handoffs.payloads import display_name
from portal.integrations.reply_tokens import reply_address

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


def backend_for(channel: str) -> ChannelBackend:
    path = settings.BATON_CHANNEL_BACKENDS.get(channel)
    if not path:
        raise DeliveryError(f"no backend configured for channel {channel!r}")
    return import_string(path)()
