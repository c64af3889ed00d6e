"""The Reply-To address that threads an email reply even when the contact's mail client drops the
`In-Reply-To`/`References` headers: `BATON_EMAIL_REPLY_ADDRESS` = `reply+{token}@in.example.com`
gives each conversation its own address, `reply+42-3f9c0a1b2c3d4e5f@in.example.com`.

The token is the conversation id and a keyed hash of it (Django's `salted_hmac` over
SECRET_KEY), lower-case hex because some mail systems lower-case local parts; a made-up or
altered token matches nothing. Imports no models: the outbound email channel uses it too."""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable

from django.conf import settings
from django.utils.crypto import salted_hmac

SALT = "baton.integrations.reply-to"
DIGEST_CHARS = 16  # 64 bits: guessing one is not a practical way in
PLACEHOLDER = "{token}"
_TOKEN = rf"(?P<id>[0-9]{{1,18}})-(?P<digest>[0-9a-f]{{{DIGEST_CHARS}}})"


def _digest(conversation_id: int) -> str:
    return salted_hmac(SALT, str(conversation_id), algorithm="sha256").hexdigest()[:DIGEST_CHARS]


def reply_token(conversation_id: int) -> str:
    return f"{conversation_id}-{_digest(conversation_id)}"


def reply_address(conversation_id: int) -> str | None:
    """The conversation's own reply address, or None when the setting is off."""
    template = settings.BATON_EMAIL_REPLY_ADDRESS
    if not template:
        return None
    return template.replace(PLACEHOLDER, reply_token(conversation_id))


def _address_pattern(template: str) -> re.Pattern[str]:
    before, _, after = template.partition(PLACEHOLDER)
    return re.compile(re.escape(before) + _TOKEN + re.escape(after), re.IGNORECASE)


def conversation_from_addresses(addresses: Iterable[str]) -> int | None:
    """The conversation id a genuine reply address among `addresses` names, if any."""
    template = settings.BATON_EMAIL_REPLY_ADDRESS
    if not template:
        return None
    pattern = _address_pattern(template)
    for address in addresses:
        match = pattern.fullmatch((address or "").strip())
        if match is None:
            continue
        conversation_id = int(match["id"])
        if hmac.compare_digest(match["digest"].lower(), _digest(conversation_id)):
            return conversation_id
    return None
