"""did:peer numalgo 2 and 4 (DIF Peer DID Method Specification).

did:peer:2 (§"Method 2: multiple inception key without doc")::

    did:peer:2 ( "." purpose multikey )* ( ".S" base64url(abbreviated service JSON) )*

Purpose codes: A assertionMethod, E keyAgreement, V authentication,
I capabilityInvocation, D capabilityDelegation, S service. Services are
written with the spec's common string abbreviations (``type``→``t``,
``serviceEndpoint``→``s``, ``routingKeys``→``r``, ``accept``→``a``,
``DIDCommMessaging``→``dm``), compact JSON, unpadded base64url. Resolution
numbers keys ``#key-1…`` in DID order and unnamed services ``#service``,
``#service-1``…; ``alsoKnownAs`` holds the did:peer:3 form (sha2-256
multihash of the part after ``did:peer:2``).

did:peer:4 (§"Method 4: short-form and long-form"): the long form is
``did:peer:4{hash}:{encoded}`` where ``encoded`` = multibase base58btc of
multicodec json (0x0200) + the input document's JSON, and ``hash`` =
multibase base58btc of the sha2-256 multihash of ``encoded`` (as text).
The short form is ``did:peer:4{hash}``. A long form whose hash does not
match its encoded document is rejected (SECURITY 12).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ssi.errors import DIDError, EncodingError
from ssi.multibase import (
    ALPHABET,
    ED25519_PUB,
    JSON_CODEC,
    SHA2_256,
    X25519_PUB,
    b58decode,
    b58encode,
    b64url_decode,
    b64url_encode,
)

CONTEXT = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]
RELATIONSHIPS = {
    "A": "assertionMethod",
    "E": "keyAgreement",
    "V": "authentication",
    "I": "capabilityInvocation",
    "D": "capabilityDelegation",
}
_ABBREV = {"type": "t", "DIDCommMessaging": "dm", "serviceEndpoint": "s", "routingKeys": "r", "accept": "a"}
_EXPAND = {v: k for k, v in _ABBREV.items()}
_PEER2_RE = re.compile(rf"^did:peer:2(\.[AEVID]z[{ALPHABET}]+|\.S[A-Za-z0-9_-]+)+$")
_PEER4_LONG_RE = re.compile(rf"^did:peer:4zQm[{ALPHABET}]{{44}}:z[{ALPHABET}]{{6,}}$")
_PEER4_SHORT_RE = re.compile(rf"^did:peer:4zQm[{ALPHABET}]{{44}}$")


# -- did:peer:2 ------------------------------------------------------------------


def _rename(obj: Any, table: Mapping[str, str]) -> Any:
    """Apply the abbreviation table to keys, and to the ``type`` value, recursively."""
    if isinstance(obj, list):
        return [_rename(x, table) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {table.get(k, k): _rename(v, table) for k, v in obj.items()}
    type_key = table.get("type", "type")
    if isinstance(out.get(type_key), str):
        out[type_key] = table.get(out[type_key], out[type_key])
    return out


def encode_service(service: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(_rename(dict(service), _ABBREV), separators=(",", ":")).encode())


def decode_service(text: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(text))
    except (EncodingError, ValueError, RecursionError):  # RecursionError: nested deeper than the parser holds
        raise DIDError("undecodable service in did:peer:2") from None
    if not isinstance(value, dict):
        raise DIDError("did:peer:2 service must be a JSON object")
    return _rename(value, _EXPAND)


def _check_key(purpose: str, multikey: str) -> None:
    try:
        codec = b58decode(multikey[1:])[:2]
    except EncodingError:
        raise DIDError("undecodable key in did:peer:2") from None
    expected = X25519_PUB if purpose == "E" else ED25519_PUB
    if codec != expected:
        raise DIDError(f"purpose {purpose} needs a {'X25519' if purpose == 'E' else 'Ed25519'} key")


def peer2(keys: Sequence[tuple[str, str]], services: Sequence[Mapping[str, Any]] = ()) -> str:
    """did:peer:2 from ``(purpose code, multikey)`` pairs and services.

    Typical: ``[("V", ed25519.multibase), ("E", x25519.multibase)]``.
    """
    parts = ["did:peer:2"]
    for purpose, multikey in keys:
        if purpose not in RELATIONSHIPS:
            raise DIDError(f"unknown purpose code {purpose!r}")
        _check_key(purpose, multikey)
        parts.append(f".{purpose}{multikey}")
    parts.extend(".S" + encode_service(s) for s in services)
    return "".join(parts)


def peer2_to_peer3(did: str) -> str:
    """The did:peer:3 (hash) form of a did:peer:2."""
    if not _PEER2_RE.match(did):
        raise DIDError(f"invalid did:peer:2: {did}")
    return "did:peer:3z" + b58encode(SHA2_256 + hashlib.sha256(did[10:].encode()).digest())


def resolve_peer2(did: str) -> dict[str, Any]:
    """The DID document a did:peer:2 encodes."""
    if not _PEER2_RE.match(did):
        raise DIDError(f"invalid did:peer:2: {did}")
    doc: dict[str, Any] = {"@context": list(CONTEXT), "id": did}
    unnamed = 0
    key_index = 0
    for element in did.split(".")[1:]:
        purpose, value = element[0], element[1:]
        if purpose == "S":
            service = decode_service(value)
            if "id" not in service:
                service["id"] = "#service" if unnamed == 0 else f"#service-{unnamed}"
                unnamed += 1
            doc.setdefault("service", []).append(service)
            continue
        _check_key(purpose, value)
        key_index += 1
        vm_id = f"#key-{key_index}"
        doc.setdefault("verificationMethod", []).append(
            {"type": "Multikey", "id": vm_id, "controller": did, "publicKeyMultibase": value}
        )
        doc.setdefault(RELATIONSHIPS[purpose], []).append(vm_id)
    doc["alsoKnownAs"] = [peer2_to_peer3(did)]
    return doc


# -- did:peer:4 ------------------------------------------------------------------


def _check_input_doc(doc: Mapping[str, Any]) -> None:
    if not isinstance(doc, Mapping) or not doc:
        raise DIDError("did:peer:4 input document must be a non-empty object")
    if "id" in doc:
        raise DIDError("did:peer:4 input document must not have an id")
    for name in ("verificationMethod", *RELATIONSHIPS.values(), "service"):
        items = doc.get(name, [])
        if not isinstance(items, list):
            raise DIDError(f"{name} must be a list")
        for item in items:
            if isinstance(item, dict) and not (
                isinstance(item.get("id"), str) and item["id"].startswith("#") and "type" in item
            ):
                raise DIDError(f"every {name} entry needs a relative id and a type")


def _hash_encoded(encoded: str) -> str:
    return "z" + b58encode(SHA2_256 + hashlib.sha256(encoded.encode("ascii")).digest())


def peer4(document: Mapping[str, Any]) -> str:
    """The long-form did:peer:4 of an input document (no ``id``, relative ids)."""
    _check_input_doc(document)
    encoded = "z" + b58encode(JSON_CODEC + json.dumps(dict(document), separators=(",", ":")).encode())
    return f"did:peer:4{_hash_encoded(encoded)}:{encoded}"


def peer4_short(long_did: str) -> str:
    """The short form of a long-form did:peer:4 (after checking its hash)."""
    decode_peer4(long_did)
    return long_did[: long_did.rfind(":")]


def decode_peer4(long_did: str) -> dict[str, Any]:
    """The input document of a long form; rejects a hash that does not match."""
    if _PEER4_SHORT_RE.match(long_did):
        raise DIDError("a short-form did:peer:4 carries no document")
    if not _PEER4_LONG_RE.match(long_did):
        raise DIDError(f"invalid did:peer:4: {long_did}")
    hashed, encoded = long_did[len("did:peer:4") :].split(":")
    if _hash_encoded(encoded) != hashed:
        raise DIDError("did:peer:4 hash does not match the encoded document")
    raw = b58decode(encoded[1:])
    if not raw.startswith(JSON_CODEC):
        raise DIDError("did:peer:4 document is not multicodec json")
    try:
        doc = json.loads(raw[len(JSON_CODEC) :])
    except (ValueError, RecursionError):
        raise DIDError("did:peer:4 document is not JSON") from None
    if not isinstance(doc, dict):
        raise DIDError("did:peer:4 document must be an object")
    return doc


def _contextualize(doc: dict[str, Any], did: str, also: str) -> dict[str, Any]:
    doc["id"] = did
    for name in ("verificationMethod", *RELATIONSHIPS.values()):
        for item in doc.get(name) or []:
            if isinstance(item, dict):
                item.setdefault("controller", did)
    doc.setdefault("alsoKnownAs", []).append(also)
    return doc


def resolve_peer4(long_did: str) -> dict[str, Any]:
    """Resolve a long-form did:peer:4: ``id`` is the long form."""
    doc = decode_peer4(long_did)
    return _contextualize(doc, long_did, long_did[: long_did.rfind(":")])


def resolve_peer4_short(long_did: str) -> dict[str, Any]:
    """The short-form view of a long form: ``id`` is the short form."""
    doc = decode_peer4(long_did)
    short = long_did[: long_did.rfind(":")]
    return _contextualize(doc, short, long_did)


def resolve_peer4_short_from_doc(document: Mapping[str, Any], short_did: str) -> dict[str, Any]:
    """Resolve a short form given the input document learnt earlier."""
    long_did = peer4(document)
    if long_did[: long_did.rfind(":")] != short_did:
        raise DIDError("document does not match the short-form did:peer:4")
    return resolve_peer4_short(long_did)


def resolve(did: str) -> dict[str, Any]:
    """Resolve did:peer:2 or long-form did:peer:4."""
    if did.startswith("did:peer:2"):
        return resolve_peer2(did)
    if did.startswith("did:peer:4"):
        return resolve_peer4(did)
    raise DIDError(f"unsupported did:peer: {did[:12]}…")
