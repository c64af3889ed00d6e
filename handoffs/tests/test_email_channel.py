"""The email channel: outbox entries become emails through Django's default mailer — locmem for
the message's shape, a real SMTP server (aiosmtpd on a free local port) for the wire and for the
failures the outbox must survive (refused connection, refused recipient, a server that hangs)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage as MimeMessage
from email.utils import parseaddr
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.core import mail

from handoffs.choices import Channel, Direction, OutboxStatus
from handoffs.models import Handoff, Message, OutboxEntry
from handoffs.outbox import outbox_enqueue
from handoffs.services import RaiseRequest, conversation_for, handoff_raise, handoff_reply
from handoffs.tasks import outbox_deliver
from journeys.models import Contact

FROM = "baton@baton.example"


@pytest.fixture(autouse=True)
def email_settings(settings: Any) -> None:
    settings.BATON_CHANNEL_BACKENDS = {
        **settings.BATON_CHANNEL_BACKENDS,
        "email": "handoffs.channels.EmailBackend",
    }
    settings.DEFAULT_FROM_EMAIL = f"Baton <{FROM}>"
    settings.BATON_EMAIL_DOMAIN = "baton.example"
    settings.BATON_EMAIL_DEFAULT_SUBJECT = "A message from Baton"
    settings.BATON_EMAIL_REPLY_TO = []
    settings.OUTBOX_MAX_ATTEMPTS = 6


@pytest.fixture
def contact(db: Any) -> Contact:
    return Contact.objects.create(external_id="c-1", name="Ada", email="ada@example.com")


@pytest.fixture
def handoff(org: Any, contact: Contact) -> Handoff:
    request = RaiseRequest(
        contact=contact,
        team=org.teams["sales"],
        trigger="high_value",
        priority="urgent",
        reason="Budget 90,000 GBP",
        evidence={"budget": 90000},
    )
    return handoff_raise(request=request)[0]


def automated_entry(contact: Contact, *, subject: str = "", to: str | None = None) -> OutboxEntry:
    """What a journey's send step queues (journeys.engine._send)."""
    message = Message.objects.create(
        conversation=conversation_for(contact),
        direction=Direction.OUT,
        channel=Channel.EMAIL,
        subject=subject,
        body="Thanks for your interest, Ada.\nHere is the brochure.",
        automated=True,
        step="welcome",
    )
    return outbox_enqueue(message=message, to_address=contact.email if to is None else to)


def reply_entry(org: Any, handoff: Handoff, body: str = "Hello Ada") -> OutboxEntry:
    message = handoff_reply(handoff_id=handoff.pk, user=org.users["riley"], body=body)
    return OutboxEntry.objects.get(message=message)


def inbound_email(contact: Contact, *, subject: str, external_id: str) -> Message:
    return Message.objects.create(
        conversation=conversation_for(contact),
        direction=Direction.IN,
        channel=Channel.EMAIL,
        subject=subject,
        body="What does it cost?",
        external_id=external_id,
    )


def sent_mime() -> MimeMessage:
    assert len(mail.outbox) == 1
    return mail.outbox[0].message()


# --- The message's shape (locmem) ---


def test_an_automated_journey_message_goes_out_as_an_email_from_the_default_address(contact):
    entry = automated_entry(contact, subject="Welcome to Acme")
    assert outbox_deliver(entry.pk) == "sent"
    sent = sent_mime()
    assert (sent["From"], sent["To"], sent["Subject"]) == (
        f"Baton <{FROM}>",
        "ada@example.com",
        "Welcome to Acme",
    )
    assert sent.get_content() == "Thanks for your interest, Ada.\nHere is the brochure.\n"
    assert sent["Auto-Submitted"] == "auto-generated"
    assert sent["Reply-To"] is None
    entry.refresh_from_db()
    assert (entry.status, entry.attempts, entry.backend, entry.last_error) == (
        OutboxStatus.SENT,
        1,
        "email",
        "",
    )
    assert entry.provider_message_id == sent["Message-ID"]
    assert re.fullmatch(rf"<[\d.]+\.{entry.message_id}\.baton@baton\.example>", sent["Message-ID"])


def test_a_human_reply_is_sent_in_the_reps_name_on_the_default_address(org, handoff):
    entry = reply_entry(org, handoff)
    assert outbox_deliver(entry.pk) == "sent"
    sent = sent_mime()
    assert parseaddr(sent["From"]) == ("Riley Reed via Baton", FROM)
    assert (sent["To"], sent["Subject"]) == ("ada@example.com", "A message from Baton")
    assert sent.get_content() == "Hello Ada\n\n— Riley Reed, Sales team\n"
    assert sent["Auto-Submitted"] is None
    entry.refresh_from_db()
    assert (entry.status, entry.provider_message_id) == (OutboxStatus.SENT, sent["Message-ID"])


def test_a_name_outside_ascii_is_encoded_in_the_from_header(org, handoff):
    riley = org.users["riley"]
    riley.first_name, riley.last_name = "Zoë", "Ødegård"
    riley.save()
    assert outbox_deliver(reply_entry(org, handoff).pk) == "sent"
    raw = mail.outbox[0].message().as_bytes()
    from_line = next(line for line in raw.splitlines() if line.startswith(b"From:"))
    assert from_line.isascii() and b"=?utf-8?" in from_line
    sent = message_from_bytes(raw, policy=policy.default)
    assert parseaddr(str(sent["From"])) == ("Zoë Ødegård via Baton", FROM)


def test_a_reply_threads_under_the_contacts_last_email(org, contact, handoff):
    inbound_email(contact, subject="Pricing question", external_id="<q1@mail.example>")
    inbound_email(contact, subject="Re: Pricing question", external_id="<q2@mail.example>")
    assert outbox_deliver(reply_entry(org, handoff).pk) == "sent"
    sent = sent_mime()
    assert sent["Subject"] == "Re: Pricing question"
    assert (sent["In-Reply-To"], sent["References"]) == ("<q2@mail.example>", "<q2@mail.example>")


def test_an_inbound_id_that_is_not_a_message_id_is_not_threaded(org, contact, handoff):
    inbound_email(contact, subject="Pricing", external_id="crm-4411")
    assert outbox_deliver(reply_entry(org, handoff).pk) == "sent"
    sent = sent_mime()
    assert (sent["Subject"], sent["In-Reply-To"], sent["References"]) == ("Re: Pricing", None, None)


def test_the_reply_to_setting_is_used_when_set(settings, contact):
    settings.BATON_EMAIL_REPLY_TO = ["replies@baton.example"]
    assert outbox_deliver(automated_entry(contact).pk) == "sent"
    assert sent_mime()["Reply-To"] == "replies@baton.example"


def test_a_retry_carries_the_same_message_id(contact):
    entry = automated_entry(contact)
    assert outbox_deliver(entry.pk) == "sent"
    OutboxEntry.objects.filter(pk=entry.pk).update(status=OutboxStatus.QUEUED)
    assert outbox_deliver(entry.pk) == "sent"
    assert len({m.message()["Message-ID"] for m in mail.outbox}) == 1


@pytest.mark.parametrize(
    ("to", "max_attempts", "status", "error"),
    [
        ("", 6, OutboxStatus.QUEUED, "no email address to send to"),
        ("", 1, OutboxStatus.FAILED, "no email address to send to"),
        ("ada-at-example", 6, OutboxStatus.QUEUED, "not a valid email address: 'ada-at-example'"),
    ],
)
def test_an_entry_without_a_usable_address_fails_with_a_clear_error(
    settings, contact, to, max_attempts, status, error
):
    settings.OUTBOX_MAX_ATTEMPTS = max_attempts
    entry = automated_entry(contact, to=to)
    assert outbox_deliver(entry.pk) == "failed"
    entry.refresh_from_db()
    assert (entry.status, entry.attempts, entry.last_error, entry.lease_until) == (
        status,
        1,
        error,
        None,
    )
    assert mail.outbox == []


# --- Over the wire (a real SMTP server) ---


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Recorder:
    """aiosmtpd handler: keeps every envelope; refuses the recipients in `refuse`."""

    refuse: set[str] = field(default_factory=set)
    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def use_smtp(settings: Any, port: int, timeout: int = 5) -> None:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": timeout},
        }
    }


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Recorder]:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    use_smtp(settings, controller.port)
    try:
        yield recorder
    finally:
        controller.stop()


def test_an_smtp_server_receives_the_reply_sent_through_the_outbox_task(org, handoff, smtp_server):
    entry = reply_entry(org, handoff, body="Hello Ada, here are the prices.")
    assert outbox_deliver(entry.pk) == "sent"
    [envelope] = smtp_server.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == (FROM, ["ada@example.com"])
    received = message_from_bytes(envelope.original_content, policy=policy.default)
    assert parseaddr(str(received["From"])) == ("Riley Reed via Baton", FROM)
    assert (received["To"], received["Subject"]) == ("ada@example.com", "A message from Baton")
    assert received.get_content().replace("\r\n", "\n") == (  # CRLF on the wire
        "Hello Ada, here are the prices.\n\n— Riley Reed, Sales team\n"
    )
    entry.refresh_from_db()
    assert (entry.status, entry.attempts, entry.backend) == (OutboxStatus.SENT, 1, "email")
    assert entry.provider_message_id == received["Message-ID"]


def test_a_recipient_the_server_refuses_is_retried_with_the_servers_reason(contact, smtp_server):
    smtp_server.refuse.add("ada@example.com")
    entry = automated_entry(contact)
    assert outbox_deliver(entry.pk) == "failed"
    entry.refresh_from_db()
    assert (entry.status, entry.attempts, entry.last_error) == (
        OutboxStatus.QUEUED,
        1,
        "recipient refused: ada@example.com (550 5.1.1 no such user)",
    )
    assert smtp_server.envelopes == []


def test_a_server_refusing_the_connection_makes_the_entry_retry(settings, contact):
    port = free_port()
    use_smtp(settings, port)
    entry = automated_entry(contact)
    assert outbox_deliver(entry.pk) == "failed"
    entry.refresh_from_db()
    assert (entry.status, entry.attempts, entry.lease_until) == (OutboxStatus.QUEUED, 1, None)
    assert entry.last_error == f"mail server unreachable (127.0.0.1:{port}): Connection refused"


def test_a_server_that_never_answers_times_out_and_the_entry_retries(settings, contact):
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        use_smtp(settings, silent.getsockname()[1], timeout=1)
        entry = automated_entry(contact)
        assert outbox_deliver(entry.pk) == "failed"
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (OutboxStatus.QUEUED, 1)
    assert "timed out" in entry.last_error
