"""Standard Webhooks 1.0, symmetric signatures (``v1``): secrets, signing and verification.

Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md

- Secret: ``whsec_`` + base64 of the key bytes (the spec recommends 24 to 64 random bytes). The prefix is
  optional when decoding, as in the reference libraries.
- Signed content: ``{webhook-id}.{webhook-timestamp}.{raw body}``; signature: HMAC-SHA256 under the key,
  standard base64, sent as ``v1,<base64>``.
- ``webhook-signature`` holds one or more space-separated ``<version>,<signature>`` pairs; a receiver ignores
  versions it does not know and accepts the message if any ``v1`` signature matches any of its secrets (several
  secrets: a rotation overlap).
- ``webhook-timestamp`` is integer Unix seconds; a receiver rejects one more than the tolerance (5 minutes)
  away from its clock in either direction, so a captured message cannot be replayed later.

Two error classes, so the HTTP layer can answer precisely: :class:`WebhookHeaderError` (a header is missing or
malformed: 400) and :class:`WebhookVerificationError` (no signature, no matching signature, or a timestamp
out of tolerance: 401). Pure: no Django, no I/O; ``now`` is passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping

from ssi.errors import SSIError

PREFIX = "whsec_"
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
TOLERANCE_SECONDS = 5 * 60
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
MAX_ID_LENGTH = 255
# Unix seconds as digits only: no sign, no fraction, no exponent (the spec's "integer Unix timestamp").
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
_ID_RE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII without spaces: ids are echoed and stored
_SIG_BYTES = hashlib.sha256().digest_size


class WebhookError(SSIError):
    """A webhook could not be verified."""


class WebhookHeaderError(WebhookError):
    """A required header is missing or malformed (HTTP 400)."""


class WebhookVerificationError(WebhookError):
    """No valid signature, or the timestamp is outside the tolerance (HTTP 401)."""


class SecretError(SSIError):
    """A string is not a Standard Webhooks secret."""


def new_secret(nbytes: int = SECRET_BYTES) -> str:
    """A fresh random secret, ``whsec_`` + base64 of ``nbytes`` (at least 24) random bytes."""
    if nbytes < MIN_SECRET_BYTES:
        raise SecretError(f"a secret has at least {MIN_SECRET_BYTES} random bytes")
    return PREFIX + base64.b64encode(os.urandom(nbytes)).decode("ascii")


def decode_secret(secret: str) -> bytes:
    """The HMAC key of ``secret`` (``whsec_`` prefix optional, standard base64)."""
    text = secret.removeprefix(PREFIX) if isinstance(secret, str) else ""
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("a webhook secret is whsec_ followed by base64") from None
    if not key:
        raise SecretError("a webhook secret may not be empty")
    return key


def _mac(key: bytes, msg_id: str, timestamp: int | str, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``msg_id.timestamp.body``."""
    return "v1," + base64.b64encode(_mac(decode_secret(secret), msg_id, int(timestamp), body)).decode("ascii")


def headers_for(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a sender puts on a message."""
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(int(timestamp)),
        SIGNATURE_HEADER: sign(secret, msg_id, timestamp, body),
    }


def _v1_signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a ``webhook-signature`` header; other versions are skipped."""
    tokens = header.split()
    if not tokens:
        raise WebhookHeaderError(f"{SIGNATURE_HEADER} is empty")
    signatures = []
    for token in tokens:
        version, comma, value = token.partition(",")
        if not comma or not version or not value:
            raise WebhookHeaderError(f"{SIGNATURE_HEADER} entries look like v1,<base64>")
        if version != "v1":
            continue  # spec: unknown versions (v1a asymmetric, future ones) are ignored
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookHeaderError(f"{SIGNATURE_HEADER}: a v1 signature is not base64") from None
        if len(raw) != _SIG_BYTES:
            raise WebhookHeaderError(f"{SIGNATURE_HEADER}: a v1 signature is {_SIG_BYTES} bytes")
        signatures.append(raw)
    return signatures


def verify(secrets: Iterable[str], headers: Mapping[str, str], body: bytes, now: float) -> str:
    """Check a received message; return its ``webhook-id``.

    ``headers``: any mapping (names are matched case-insensitively); ``now``: the receiver's Unix time.
    Raises :class:`WebhookHeaderError` or :class:`WebhookVerificationError`.
    """
    lowered = {str(name).lower(): value for name, value in headers.items()}
    msg_id = lowered.get(ID_HEADER)
    timestamp = lowered.get(TIMESTAMP_HEADER)
    signature = lowered.get(SIGNATURE_HEADER)
    if not msg_id:
        raise WebhookHeaderError(f"the {ID_HEADER} header is missing")
    if len(msg_id) > MAX_ID_LENGTH or not _ID_RE.match(msg_id):
        raise WebhookHeaderError(f"{ID_HEADER} is 1–{MAX_ID_LENGTH} printable characters without spaces")
    if not timestamp:
        raise WebhookHeaderError(f"the {TIMESTAMP_HEADER} header is missing")
    if not _TIMESTAMP_RE.match(timestamp):
        raise WebhookHeaderError(f"{TIMESTAMP_HEADER} is integer Unix seconds")
    if signature is None or not signature.strip():
        raise WebhookVerificationError(f"the {SIGNATURE_HEADER} header is missing")
    candidates = _v1_signatures(signature)
    sent = int(timestamp)
    if sent < now - TOLERANCE_SECONDS:
        raise WebhookVerificationError(f"{TIMESTAMP_HEADER} is too old")
    if sent > now + TOLERANCE_SECONDS:
        raise WebhookVerificationError(f"{TIMESTAMP_HEADER} is too far in the future")
    keys = [decode_secret(secret) for secret in secrets]
    matched = False
    # Compare against every key and signature without stopping early: the time taken does not tell which
    # secret (current or previous) matched.
    for key in keys:
        expected = _mac(key, msg_id, timestamp, body)
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookVerificationError("no matching signature")
    return msg_id
