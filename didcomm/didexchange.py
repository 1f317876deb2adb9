"""RFC 0023 DID Exchange: reading and verifying what a requester sends (no Django, no database).

A request names the requester's DID. In 1.1 that is usually a long-form did:peer:4 (or did:peer:2), which
resolves from itself; in 1.0 it is an unqualified DID with a ``did_doc~attach`` holding an old-style document
(``publicKey`` with ``Ed25519VerificationKey2018``, an ``IndyAgent`` service), signed as an RFC 0017 attachment
JWS. Every signed attachment present is verified; and the envelope's sender key (Authcrypt) must be one of the
DID's keys, which binds the DID to whoever sent the request.

Every failure raises :class:`ExchangeError` (its text goes into the problem report).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from ssi import didpeer
from ssi.didkey import verify_key_from_did_key
from ssi.errors import SSIError
from ssi.keys import VerifyKey
from ssi.multibase import b58decode, b58encode, b64url_decode, b64url_encode

# A DID document inside a message is small; a bigger attachment is refused before decoding.
MAX_ATTACHMENT_CHARS = 65_536


class ExchangeError(Exception):
    """A DID Exchange message is malformed or does not verify."""


@dataclass(frozen=True)
class TheirDid:
    did: str
    verkeys: tuple[str, ...]
    """Every Ed25519 key of the DID, base58 (as the envelope names keys)."""
    endpoint: str
    """The first DIDComm service endpoint (http, https, ws or wss), or ""."""


def _b64_any(text: str) -> bytes:
    """An attachment's ``base64``: agents write standard or URL-safe, padded or not."""
    if not isinstance(text, str) or len(text) > MAX_ATTACHMENT_CHARS:
        raise ExchangeError("attachment data is not base64 (or too large)")
    normalised = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(normalised + "=" * (-len(normalised) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ExchangeError("attachment data is not base64") from None


def verify_signed_attachment(attachment: object) -> tuple[bytes, VerifyKey]:
    """An RFC 0017 signed attachment: its data and the key that signed it.

    ``data.jws`` is a flattened JWS (EdDSA) whose payload is the base64url of the data; the key is the
    ``kid`` did:key (in the unprotected or protected header), and a ``jwk`` in the protected header must name
    the same key.
    """
    if not isinstance(attachment, dict) or not isinstance(attachment.get("data"), dict):
        raise ExchangeError("attachment needs a data object")
    data = attachment["data"]
    payload = _b64_any(data.get("base64"))
    jws = data.get("jws")
    if not isinstance(jws, dict):
        raise ExchangeError("attachment is not signed (no data.jws)")
    protected_b64, signature_b64 = jws.get("protected"), jws.get("signature")
    if not isinstance(protected_b64, str) or not isinstance(signature_b64, str):
        raise ExchangeError("attachment JWS needs protected and signature")
    try:
        protected = json.loads(b64url_decode(protected_b64.rstrip("=")))
        signature = b64url_decode(signature_b64.rstrip("="))
    except (SSIError, ValueError, RecursionError):
        raise ExchangeError("attachment JWS is not base64url JSON") from None
    if not isinstance(protected, dict) or protected.get("alg") != "EdDSA":
        raise ExchangeError("attachment JWS must be EdDSA")
    header = jws.get("header") if isinstance(jws.get("header"), dict) else {}
    kid = protected.get("kid") or header.get("kid")
    try:
        key = verify_key_from_did_key(kid)
    except SSIError:
        raise ExchangeError("attachment JWS kid must be an Ed25519 did:key") from None
    jwk = protected.get("jwk")
    if jwk is not None:
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise ExchangeError("attachment JWS jwk must be an Ed25519 OKP key")
        if jwk.get("x") != b64url_encode(key.raw):
            raise ExchangeError("attachment JWS jwk and kid name different keys")
    signing_input = f"{protected_b64.rstrip('=')}.{b64url_encode(payload)}".encode("ascii")
    try:
        key.verify(signing_input, signature)
    except SSIError:
        raise ExchangeError("attachment signature does not verify") from None
    return payload, key


def _endpoint(services: object) -> str:
    for service in services if isinstance(services, list) else []:
        if not isinstance(service, dict):
            continue
        endpoint = service.get("serviceEndpoint")
        if isinstance(endpoint, dict):  # DIDCommMessaging v2 style: {"uri": ...}
            endpoint = endpoint.get("uri")
        if isinstance(endpoint, str) and endpoint.startswith(("http://", "https://", "ws://", "wss://")):
            if len(endpoint) <= 2048:
                return endpoint
    return ""


def _key_of(method: dict[str, Any]) -> str | None:
    """A verification method's Ed25519 key as base58 (Multikey, Ed25519VerificationKey2018/2020)."""
    try:
        if isinstance(method.get("publicKeyMultibase"), str) and method["publicKeyMultibase"].startswith("z6Mk"):
            return b58encode(VerifyKey.from_multibase(method["publicKeyMultibase"]).raw)
        if isinstance(method.get("publicKeyBase58"), str):
            raw = b58decode(method["publicKeyBase58"])
            return b58encode(VerifyKey(raw).raw)
    except SSIError:
        return None
    return None


def _document_keys(doc: dict[str, Any]) -> tuple[str, ...]:
    methods = [*(doc.get("verificationMethod") or []), *(doc.get("publicKey") or [])]
    keys = [key for method in methods if isinstance(method, dict) and (key := _key_of(method))]
    return tuple(dict.fromkeys(keys))


def resolve_request_did(body: dict[str, Any]) -> TheirDid:
    """The requester's DID from a request (1.0 or 1.1), its signed attachment verified if present."""
    did = body.get("did")
    if not isinstance(did, str) or not did or len(did) > 2048:
        raise ExchangeError("request needs a did")
    attachment = body.get("did_doc~attach")
    if attachment is not None:
        payload, signer = verify_signed_attachment(attachment)
        try:
            doc = json.loads(payload)
        except (ValueError, RecursionError):
            raise ExchangeError("did_doc~attach is not JSON") from None
        if not isinstance(doc, dict):
            raise ExchangeError("did_doc~attach must be a JSON object")
        doc_id = doc.get("id")
        if doc_id not in (did, f"did:sov:{did}"):
            raise ExchangeError("did_doc~attach is not the document of the request's did")
        verkeys = _document_keys(doc)
        if b58encode(signer.raw) not in verkeys:
            raise ExchangeError("did_doc~attach is not signed by a key of its document")
        return TheirDid(did=did, verkeys=verkeys, endpoint=_endpoint(doc.get("service")))
    if did.startswith(("did:peer:2", "did:peer:4")):
        try:
            doc = didpeer.resolve(did)
        except SSIError as exc:
            raise ExchangeError(f"request did does not resolve: {exc}") from None
        return TheirDid(did=did, verkeys=_document_keys(doc), endpoint=_endpoint(doc.get("service")))
    raise ExchangeError("request did is neither a did:peer:2/4 nor accompanied by a signed did_doc~attach")
