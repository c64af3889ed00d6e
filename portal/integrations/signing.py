"""HMAC-SHA256 signatures over `timestamp + "." + raw body`, shared by inbound webhooks and (later)
outbound ones, so a sender and a receiver of Baton's webhooks compute exactly the same thing.

Headers: `X-Baton-Timestamp: <unix seconds>` and `X-Baton-Signature: v1=<hex>` (several
`v1=` values, comma-separated, are allowed: a sender rotating its secret may sign with both).
A timestamp more than `tolerance` seconds in the past or the future is refused, which bounds how
long a captured request can be replayed; the receiver also remembers deliveries (webhooks.py).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

TIMESTAMP_HEADER = "X-Baton-Timestamp"
SIGNATURE_HEADER = "X-Baton-Signature"
DELIVERY_HEADER = "X-Baton-Delivery"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
MAX_SIGNATURES = 5  # a header is not a place to brute-force secrets


class SignatureError(Exception):
    """Why a request's signature was refused, in words a sender's developer can act on."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256 of `timestamp.body` under `secret`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Baton-Signature` value for one secret: `v1=<hex>`."""
    return f"{SCHEME}={sign(secret, timestamp, body)}"


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """Both headers for a request sent now (what a sender, or a test, attaches)."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature_header(secret, timestamp, body),
    }


def parse_timestamp(raw: str | None) -> int:
    if raw is None or not raw.strip():
        raise SignatureError(f"Missing {TIMESTAMP_HEADER} header.")
    value = raw.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be whole seconds since 1970 (UTC).")
    return int(value)


def parse_signatures(raw: str | None) -> list[str]:
    if raw is None or not raw.strip():
        raise SignatureError(f"Missing {SIGNATURE_HEADER} header.")
    found = []
    for part in raw.split(",")[:MAX_SIGNATURES]:
        scheme, sep, value = part.strip().partition("=")
        if sep and scheme == SCHEME and value:
            found.append(value.strip().lower())
    if not found:
        raise SignatureError(f"{SIGNATURE_HEADER} must look like {SCHEME}=<hex HMAC-SHA256>.")
    return found


def verify(
    *,
    secrets: Iterable[str],
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check the headers of a request against every active secret; return its timestamp.

    Raises SignatureError for a missing or malformed header, a timestamp outside the window
    (stale or future-dated) or a signature no active secret produces. Every comparison is
    constant-time (`hmac.compare_digest`), and all of them run, match or not."""
    stamp = parse_timestamp(timestamp)
    assert timestamp is not None  # parse_timestamp refused a missing one
    candidates = parse_signatures(signature)
    current = time.time() if now is None else now
    if stamp < current - tolerance:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is more than {tolerance} s old: sign each delivery as it is sent."
        )
    if stamp > current + tolerance:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is over {tolerance} s in the future: check the sender's clock."
        )
    matched = False
    for secret in secrets:
        if not secret:
            continue
        expected = sign(secret, timestamp.strip(), body)  # as sent: "0017…" ≠ "17…"
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("Signature does not match the body under any active secret.")
    return stamp
