"""RFC 0023 DID Exchange (and the DIDs RFC 0794 DID Rotate names): the pure parts, no Django, no database.

Reading what the peer sends:

- A request names the requester's DID. In 1.1 that is usually a long-form did:peer:4 (or did:peer:2), which
  resolves from itself; in 1.0 it is an unqualified DID with a ``did_doc~attach`` holding an old-style document
  (``publicKey`` with ``Ed25519VerificationKey2018``, an ``IndyAgent`` service), signed as an RFC 0017 attachment
  JWS (:mod:`ssi.jws`).
- A response names the responder's DID, and proves the invitation's key chose it: 1.1 carries a
  ``did_rotate~attach`` (the DID as text, signed with the invitation key), 1.0 a ``did_doc~attach`` signed with it.
- An invitation names where to send the request: an inline service (did:key recipient keys) or a did:peer:2/4.

Every signed attachment present is verified; the caller also checks that the envelope's sender key (Authcrypt) is
one of the DID's keys, which binds the DID to whoever sent the message. Every failure raises
:class:`ExchangeError` (its text goes into the problem report).

Writing what we send: our pairwise DID for a connection, as ACA-Py 1.7.0 builds and accepts it. 1.1: a long-form
did:peer:4 whose one Ed25519 key (``#key-0``) authenticates and is the recipient key of a ``did-communication``
service at our endpoint; its X25519 form (``#key-1``) is the key agreement key, the very key the RFC 0019
envelope converts the Ed25519 key into. 1.0: an unqualified DID (base58 of the verkey's first 16 bytes, as Indy
and ACA-Py derive it) and the old-style document for ``did_doc~attach``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from ssi import didpeer, jws, oob
from ssi.didkey import verify_key_from_did_key
from ssi.errors import SSIError
from ssi.keys import SigningKey, VerifyKey
from ssi.multibase import b58decode, b58encode

MAX_ATTACHMENT_CHARS = jws.MAX_ATTACHMENT_CHARS
MAX_DID_CHARS = 4096
LEGACY_CONTEXT = "https://w3id.org/did/v1"
# The service types a DIDComm v1 peer can be reached through (RFC 0067's ``did-communication``, Indy's
# ``IndyAgent``, and DIDComm v2's ``DIDCommMessaging`` whose endpoint may be an object with a ``uri``).
SERVICE_TYPES = ("did-communication", "IndyAgent", "DIDCommMessaging")
ENDPOINT_SCHEMES = ("http://", "https://", "ws://", "wss://")


class ExchangeError(Exception):
    """A DID Exchange message is malformed or does not verify; ``code`` names the RFC's problem, if one fits."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TheirDid:
    did: str
    verkeys: tuple[str, ...]
    """Every Ed25519 key of the DID, base58 (as the envelope names keys)."""
    endpoint: str
    """The first DIDComm service endpoint (http, https, ws or wss), or ""."""
    recipient_verkey: str = ""
    """The key that service names as its recipient (base58), or the DID's first key; "" if it has none."""
    routing_verkeys: tuple[str, ...] = ()
    """That service's routing keys (mediators), base58, nearest the recipient first (RFC 0046)."""


@dataclass(frozen=True)
class InvitationTarget:
    """Where a request to an invitation goes, and the key it is encrypted to (the invitation key)."""

    endpoint: str
    recipient_verkey: str
    routing_verkeys: tuple[str, ...] = ()


# -- protocol versions -------------------------------------------------------------------------------------------


def protocol_of(message_type: str) -> str:
    """The version of a didexchange message type, "1.0" or "1.1" (any 1.x above 1 is read as 1.1: RFC 0003 semver)."""
    for prefix in (oob.DIDCOMM_PREFIX, oob.LEGACY_PREFIX):
        if message_type.startswith(prefix):
            version = message_type[len(prefix) :].split("/")[1:2]
            if version == ["1.0"]:
                return "1.0"
            return "1.1"
    return "1.1"


def invitation_protocol(handshake_protocols: tuple[str, ...]) -> str | None:
    """The DID Exchange version to answer an invitation with: 1.1 if offered (any 1.x above 1), else 1.0."""
    offered: set[str] = set()
    for protocol in handshake_protocols:
        for prefix in (oob.DIDCOMM_PREFIX, oob.LEGACY_PREFIX):
            if protocol.startswith(prefix):
                family, _, version = protocol[len(prefix) :].rstrip("/").partition("/")
                major, _, minor = version.partition(".")
                if family == "didexchange" and major == "1" and minor.isdigit():
                    offered.add("1.0" if minor == "0" else "1.1")
    if "1.1" in offered:
        return "1.1"
    if "1.0" in offered:
        return "1.0"
    return None


# -- our DIDs ----------------------------------------------------------------------------------------------------


def unqualified_did(key: VerifyKey) -> str:
    """An Indy-style DID: base58 of the first 16 bytes of the verkey (what ACA-Py's 1.0 DIDs are)."""
    return b58encode(key.raw[:16])


def legacy_document(did: str, key: VerifyKey, endpoint: str) -> dict[str, Any]:
    """The old-style DID document of an unqualified DID, as ACA-Py writes it for ``did_doc~attach``."""
    qualified = f"did:sov:{did}"
    verkey = b58encode(key.raw)
    return {
        "@context": LEGACY_CONTEXT,
        "id": qualified,
        "publicKey": [
            {
                "id": f"{qualified}#1",
                "type": "Ed25519VerificationKey2018",
                "controller": qualified,
                "publicKeyBase58": verkey,
            }
        ],
        "authentication": [{"type": "Ed25519SignatureAuthentication2018", "publicKey": f"{qualified}#1"}],
        "service": [
            {
                "id": f"{qualified};indy",
                "type": "IndyAgent",
                "priority": 0,
                "recipientKeys": [verkey],
                "serviceEndpoint": endpoint,
            }
        ],
    }


def peer4_document(key: VerifyKey, endpoint: str) -> dict[str, Any]:
    """The input document of our did:peer:4 for a connection (see the module docstring)."""
    return {
        "@context": list(didpeer.CONTEXT),
        "verificationMethod": [
            {"id": "#key-0", "type": "Multikey", "publicKeyMultibase": key.multibase},
            {"id": "#key-1", "type": "Multikey", "publicKeyMultibase": key.to_x25519().multibase},
        ],
        "authentication": ["#key-0"],
        "keyAgreement": ["#key-1"],
        "service": [
            {
                "id": "#didcomm-0",
                "type": "did-communication",
                "priority": 0,
                "recipientKeys": ["#key-0"],
                "routingKeys": [],
                "serviceEndpoint": endpoint,
            }
        ],
    }


def peer4_did(key: VerifyKey, endpoint: str) -> str:
    """Our long-form did:peer:4 for a connection key and endpoint."""
    return didpeer.peer4(peer4_document(key, endpoint))


def signed_attachment(payload: bytes, key: SigningKey, *, mime_type: str) -> dict[str, Any]:
    """An RFC 0017 attachment carrying ``payload`` with a JWS by ``key`` (see :mod:`ssi.jws`).

    ACA-Py 1.7.0 verifies the signature correctly but then reads the payload by turning ``+``/``/`` into
    ``-``/``_`` and decoding as standard base64, which drops them: a payload whose base64 has a ``+`` or ``/``
    would reach it altered. For ASCII text that happens only with a ``>``, ``?``, ``~`` (or DEL) as the last byte
    of a three-byte group; DIDs have none, and our documents have none as long as the endpoint URL has none.
    """
    return {"@id": str(uuid.uuid4()), "mime-type": mime_type, "data": jws.sign_data(payload, key)}


def did_rotate_attachment(did: str, invitation_key: SigningKey) -> dict[str, Any]:
    """RFC 0023 1.1 response: the responder's DID, as text, signed with the invitation key."""
    return signed_attachment(did.encode("utf-8"), invitation_key, mime_type="text/string")


def did_doc_attachment(document: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """RFC 0023 1.0: the DID document, signed (by our own key in a request, the invitation key in a response)."""
    return signed_attachment(json.dumps(document).encode("utf-8"), key, mime_type="application/json")


# -- reading their DIDs --------------------------------------------------------------------------------------------


def verify_signed_attachment(attachment: object) -> tuple[bytes, VerifyKey]:
    """An RFC 0017 signed attachment: its data and the key that signed it (see :func:`ssi.jws.verify_data`)."""
    if not isinstance(attachment, dict):
        raise ExchangeError("attachment needs a data object")
    try:
        return jws.verify_data(attachment.get("data"))
    except jws.AttachmentError as exc:
        raise ExchangeError(str(exc)) from None


def _endpoint_of(service: dict[str, Any]) -> str:
    endpoint = service.get("serviceEndpoint")
    if isinstance(endpoint, dict):  # DIDCommMessaging v2 style: {"uri": ...}
        endpoint = endpoint.get("uri")
    if isinstance(endpoint, str) and endpoint.startswith(ENDPOINT_SCHEMES) and len(endpoint) <= 2048:
        return endpoint
    return ""


def _services(doc: dict[str, Any]) -> list[dict[str, Any]]:
    services = doc.get("service")
    found = [s for s in services if isinstance(s, dict)] if isinstance(services, list) else []
    usable = [s for s in found if s.get("type") in SERVICE_TYPES and _endpoint_of(s)]
    # A DID document may order services by ``priority`` (lowest first, RFC 0067); unnumbered ones keep their order.
    return sorted(usable, key=lambda s: s["priority"] if isinstance(s.get("priority"), int) else 0)


def _endpoint(doc: dict[str, Any]) -> str:
    services = _services(doc)
    return _endpoint_of(services[0]) if services else ""


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


def _methods(doc: dict[str, Any]) -> list[dict[str, Any]]:
    methods = [*(doc.get("verificationMethod") or []), *(doc.get("publicKey") or [])]
    return [method for method in methods if isinstance(method, dict)]


def _document_keys(doc: dict[str, Any]) -> tuple[str, ...]:
    keys = [key for method in _methods(doc) if (key := _key_of(method))]
    return tuple(dict.fromkeys(keys))


def _dereference(doc: dict[str, Any], ref: object) -> str | None:
    """A service's recipient key reference as a base58 verkey: ``#key-0`` or ``did…#key-0`` (a method of the
    document), a did:key, or (old-style documents) the base58 verkey itself."""
    if not isinstance(ref, str):
        return None
    if ref.startswith("did:key:"):
        try:
            return b58encode(verify_key_from_did_key(ref).raw)
        except SSIError:
            return None
    if "#" in ref:
        fragment = ref[ref.index("#") :]
        for method in _methods(doc):
            method_id = method.get("id")
            if isinstance(method_id, str) and (method_id == ref or method_id.endswith(fragment)):
                return _key_of(method)
        return None
    return _key_of({"publicKeyBase58": ref})


def _routing(doc: dict[str, Any], service: dict[str, Any]) -> tuple[str, ...] | None:
    """A service's routing keys (RFC 0046 mediators) as base58 verkeys; ``None`` if one cannot be read."""
    endpoint = service.get("serviceEndpoint")
    refs = service.get("routingKeys")
    if refs is None and isinstance(endpoint, dict):  # DIDCommMessaging: inside the endpoint object
        refs = endpoint.get("routingKeys")
    if refs is None:
        return ()
    if not isinstance(refs, list):
        return None
    verkeys: list[str] = []
    for ref in refs:
        verkey = _dereference(doc, ref)
        if verkey is None:
            return None
        verkeys.append(verkey)
    return tuple(verkeys)


def _their_did(did: str, doc: dict[str, Any]) -> TheirDid:
    """The DID's keys and the first DIDComm service we can use: its endpoint, recipient key and routing keys
    (without a recipient key in any service, the DID's first key at the first endpoint)."""
    verkeys = _document_keys(doc)
    for service in _services(doc):
        keys = service.get("recipientKeys")
        recipient = _dereference(doc, keys[0]) if isinstance(keys, list) and keys else None
        routing = _routing(doc, service)
        if recipient is not None and routing is not None:
            return TheirDid(
                did=did,
                verkeys=verkeys,
                endpoint=_endpoint_of(service),
                recipient_verkey=recipient,
                routing_verkeys=routing,
            )
    return TheirDid(did=did, verkeys=verkeys, endpoint=_endpoint(doc), recipient_verkey=verkeys[0] if verkeys else "")


def _attached_document(attachment: object, did: str) -> tuple[dict[str, Any], VerifyKey]:
    payload, signer = verify_signed_attachment(attachment)
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        raise ExchangeError("did_doc~attach is not JSON") from None
    if not isinstance(doc, dict):
        raise ExchangeError("did_doc~attach must be a JSON object")
    # Old-style documents name an unqualified DID as did:sov:… (ACA-Py's "legacy DIDs" special case).
    if doc.get("id") not in (did, f"did:sov:{did}"):
        raise ExchangeError("did_doc~attach is not the document of the message's did")
    return doc, signer


def _the_did(body: dict[str, Any], what: str) -> str:
    did = body.get("did")
    if not isinstance(did, str) or not did or len(did) > MAX_DID_CHARS:
        raise ExchangeError(f"{what} needs a did")
    return did


def resolve_did(did: str) -> TheirDid:
    """A did:peer:2 or long-form did:peer:4, resolved from itself; ``code`` says why one cannot be used (the
    RFC 0794 codes: ``e.did.method_unsupported``, ``e.did.unresolvable``, ``e.did.doc_unsupported``)."""
    if not isinstance(did, str) or not did.startswith(("did:peer:2", "did:peer:4")) or len(did) > MAX_DID_CHARS:
        raise ExchangeError(
            "only did:peer:2 and long-form did:peer:4 DIDs are supported", code="e.did.method_unsupported"
        )
    try:
        doc = didpeer.resolve(did)
    except SSIError as exc:
        raise ExchangeError(f"the did does not resolve: {exc}", code="e.did.unresolvable") from None
    their = _their_did(did, doc)
    if not their.endpoint or not their.recipient_verkey:
        raise ExchangeError("the did's document has no DIDComm service with a key", code="e.did.doc_unsupported")
    return their


def resolve_request_did(body: dict[str, Any]) -> TheirDid:
    """The requester's DID from a request (1.0 or 1.1), its signed attachment verified if present."""
    did = _the_did(body, "request")
    attachment = body.get("did_doc~attach")
    if attachment is not None:
        doc, signer = _attached_document(attachment, did)
        their = _their_did(did, doc)
        if b58encode(signer.raw) not in their.verkeys:
            raise ExchangeError("did_doc~attach is not signed by a key of its document")
        return their
    if did.startswith(("did:peer:2", "did:peer:4")):
        try:
            doc = didpeer.resolve(did)
        except SSIError as exc:
            raise ExchangeError(f"request did does not resolve: {exc}") from None
        return _their_did(did, doc)
    raise ExchangeError("request did is neither a did:peer:2/4 nor accompanied by a signed did_doc~attach")


def resolve_response_did(body: dict[str, Any], *, invitation_verkey: str) -> TheirDid:
    """The responder's DID from a response, proven chosen by the holder of the invitation's key.

    1.0 (or a 1.1 responder falling back to it): a ``did_doc~attach`` signed with the invitation key. 1.1: a
    ``did_rotate~attach`` signed with the invitation key whose content is exactly the response's ``did``, which
    must then resolve (did:peer:2/4).
    """
    did = _the_did(body, "response")
    document_attachment = body.get("did_doc~attach")
    if document_attachment is not None:
        doc, signer = _attached_document(document_attachment, did)
        if b58encode(signer.raw) != invitation_verkey:
            raise ExchangeError("did_doc~attach is not signed by the invitation's key")
        return _their_did(did, doc)
    rotate = body.get("did_rotate~attach")
    if rotate is None:
        raise ExchangeError("response needs a did_rotate~attach (or a signed did_doc~attach)")
    payload, signer = verify_signed_attachment(rotate)
    if b58encode(signer.raw) != invitation_verkey:
        raise ExchangeError("did_rotate~attach is not signed by the invitation's key")
    if payload != did.encode("utf-8"):
        raise ExchangeError("did_rotate~attach signs another did than the response's")
    try:
        doc = didpeer.resolve(did)
    except SSIError as exc:
        raise ExchangeError(f"response did does not resolve: {exc}") from None
    return _their_did(did, doc)


def invitation_target(invitation: oob.Invitation) -> InvitationTarget:
    """The first service of an invitation we can send a request to: an inline service, or a did:peer:2/4
    (resolved here). Raises :class:`ExchangeError` saying why none can be used."""
    problems: list[str] = []
    for service in invitation.services:
        if isinstance(service, oob.InlineService):
            if not service.service_endpoint.startswith(ENDPOINT_SCHEMES):
                problems.append("its service endpoint is not an http(s) or ws(s) URL")
                continue
            try:
                recipient = service.recipient_verkeys[0]
                routing = tuple(b58encode(verify_key_from_did_key(key).raw) for key in service.routing_keys)
            except SSIError:
                problems.append("its service keys are not Ed25519 did:keys")
                continue
            return InvitationTarget(
                endpoint=service.service_endpoint, recipient_verkey=recipient, routing_verkeys=routing
            )
        try:
            their = resolve_did(service.split("#")[0])
        except ExchangeError as exc:
            problems.append(f"its service DID cannot be used ({exc})")
            continue
        return InvitationTarget(
            endpoint=their.endpoint, recipient_verkey=their.recipient_verkey, routing_verkeys=their.routing_verkeys
        )
    raise ExchangeError("; ".join(dict.fromkeys(problems)) or "it has no usable service")
