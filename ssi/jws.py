"""Signed attachments (Aries RFC 0017): an attachment's ``data`` with a detached EdDSA JWS over its ``base64``.

DID Exchange (RFC 0023) signs two things this way: the 1.0 ``did_doc~attach`` (a DID document) and the 1.1
``did_rotate~attach`` (the responder's DID as a string), both with the invitation's key. The shape is the one
ACA-Py writes and checks::

    {"base64": <standard base64 of the payload>,
     "jws": {"header": {"kid": "did:key:z6Mk…"},
             "protected": b64url({"alg": "EdDSA", "kid": "did:key:z6Mk…",
                                  "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url(key), "kid": "did:key:z6Mk…"}}),
             "signature": b64url(Ed25519(protected + "." + b64url(payload)))}}

The signing input is RFC 7515's: the protected header and the payload, each base64url without padding. ACA-Py
needs the ``jwk`` in the protected header and checks the signature against it and against the ``kid``.

Every failure to verify raises :class:`AttachmentError` (its text goes into a problem report), and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ssi.didkey import did_key, verify_key_from_did_key
from ssi.errors import SSIError
from ssi.keys import SigningKey, VerifyKey
from ssi.multibase import b64url_decode, b64url_encode

# A DID document inside a message is small; a bigger attachment is refused before decoding.
MAX_ATTACHMENT_CHARS = 65_536


class AttachmentError(SSIError):
    """A signed attachment is malformed, unsigned, or its signature does not verify."""


def _b64_any(text: object) -> bytes:
    """An attachment's ``base64``: agents write standard or URL-safe, padded or not."""
    if not isinstance(text, str) or len(text) > MAX_ATTACHMENT_CHARS:
        raise AttachmentError("attachment data is not base64 (or too large)")
    normalised = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(normalised + "=" * (-len(normalised) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise AttachmentError("attachment data is not base64") from None


def sign_data(payload: bytes, key: SigningKey) -> dict[str, Any]:
    """The ``data`` member of an attachment carrying ``payload``, signed with ``key``."""
    kid = did_key(key.verify_key)
    protected = b64url_encode(
        json.dumps(
            {
                "alg": "EdDSA",
                "kid": kid,
                "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(key.verify_key.raw), "kid": kid},
            },
            separators=(",", ":"),
        ).encode("ascii")
    )
    signature = key.sign(f"{protected}.{b64url_encode(payload)}".encode("ascii"))
    return {
        "base64": base64.b64encode(payload).decode("ascii"),
        "jws": {"header": {"kid": kid}, "protected": protected, "signature": b64url_encode(signature)},
    }


def verify_data(data: object) -> tuple[bytes, VerifyKey]:
    """The payload of a signed attachment ``data`` and the key that signed it.

    The key is named by ``kid`` (protected header, unprotected header, or the protected ``jwk``'s); a ``jwk``,
    if present, must be that same key. Only a flattened JWS with one signature is accepted.
    """
    if not isinstance(data, dict):
        raise AttachmentError("attachment needs a data object")
    payload = _b64_any(data.get("base64"))
    jws = data.get("jws")
    if not isinstance(jws, dict):
        raise AttachmentError("attachment is not signed (no data.jws)")
    protected_b64, signature_b64 = jws.get("protected"), jws.get("signature")
    if not isinstance(protected_b64, str) or not isinstance(signature_b64, str):
        raise AttachmentError("attachment JWS needs protected and signature")
    try:
        protected = json.loads(b64url_decode(protected_b64, padded_ok=True))
        signature = b64url_decode(signature_b64, padded_ok=True)
    except (SSIError, ValueError, RecursionError):
        raise AttachmentError("attachment JWS header or signature is not base64url (JSON)") from None
    if not isinstance(protected, dict) or protected.get("alg") != "EdDSA":
        raise AttachmentError("attachment JWS must be EdDSA")
    header = jws.get("header") if isinstance(jws.get("header"), dict) else {}
    jwk = protected.get("jwk")
    if jwk is not None and not (isinstance(jwk, dict) and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519"):
        raise AttachmentError("attachment JWS jwk must be an Ed25519 OKP key")
    named = [kid for kid in (protected.get("kid"), header.get("kid"), (jwk or {}).get("kid")) if kid is not None]
    kids = set(named) if all(isinstance(kid, str) for kid in named) else set()
    if len(kids) != 1:
        raise AttachmentError("attachment JWS must name exactly one kid")
    try:
        key = verify_key_from_did_key(kids.pop())
    except SSIError:
        raise AttachmentError("attachment JWS kid must be an Ed25519 did:key") from None
    if jwk is not None and jwk.get("x") != b64url_encode(key.raw):
        raise AttachmentError("attachment JWS jwk and kid name different keys")
    signing_input = f"{protected_b64.rstrip('=')}.{b64url_encode(payload)}".encode("ascii")
    try:
        key.verify(signing_input, signature)
    except SSIError:
        raise AttachmentError("attachment signature does not verify") from None
    return payload, key
