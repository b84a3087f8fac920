"""Standard Webhooks (https://www.standardwebhooks.com): signing and verification.

A message carries three headers:

- ``webhook-id``: a stable identifier, the same on every retry (receivers de-duplicate on it);
- ``webhook-timestamp``: when this attempt was signed, in whole seconds since the epoch;
- ``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` signatures over
  ``"{id}.{timestamp}.{body}"`` with the secret's key (several while a secret is rotated).

The secret is ``whsec_`` followed by the base64 of 32 random bytes; the HMAC key is those
bytes. :func:`verify` is what a receiver runs (the tests run it in their receiver).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105  (the format's prefix)
SECRET_BYTES = 32
DEFAULT_TOLERANCE = 300  # seconds either side of the receiver's clock
MAX_SIGNATURES = 8


class WebhookVerificationError(Exception):
    """The message is not authentic, or too old/new to be accepted (replay protection)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the prefix is optional, as the spec allows)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret is not valid base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("a webhook secret holds 24 to 64 bytes")
    return key


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for a message."""
    if not msg_id or any(c.isspace() for c in msg_id):
        raise ValueError("a webhook id must be non-empty, without white space")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signature(secret, msg_id, int(timestamp), body),
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, *,
           tolerance: int = DEFAULT_TOLERANCE, now: float | None = None) -> str:
    """Check a received message; returns its ``webhook-id``.

    ``headers`` must be looked up case-insensitively (as HTTP headers are), or use
    lower-case keys. Raises :class:`WebhookVerificationError` on a missing header, a
    timestamp more than ``tolerance`` seconds from ``now`` (default: this clock), or
    when no ``v1`` signature matches.
    """
    msg_id = _header(headers, "webhook-id")
    raw_timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError("invalid webhook-timestamp") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("message timestamp too old")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("message timestamp too new")
    expected = signature(secret, msg_id, timestamp, body).split(",", 1)[1].encode()
    for candidate in signatures.split()[:MAX_SIGNATURES]:
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return msg_id
    raise WebhookVerificationError("no matching signature")


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if not value:
        raise WebhookVerificationError(f"missing {name} header")
    return value
