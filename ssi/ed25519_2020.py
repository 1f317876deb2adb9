"""Linked Data proofs with the ``Ed25519Signature2020`` suite (W3C CCG "Ed25519 Signature 2020") over VC Data Model
1.1, for Aries wallets that verify no Data Integrity cryptosuite over ``aries/ld-proof-vc``: ACA-Py 1.7 issues,
verifies and stores Ed25519Signature2020 credentials of either data model, but presents (DIF Presentation Exchange)
only inside a VC 1.1 presentation, in which a VC 2.0 credential fails JSON-LD processing (its protected terms clash
with the presentation's). See tests/interop/test_acapy_issue_credential.py.

The suite's steps, as the CCG report and the Linked Data Signatures algorithm give them:

- Proof options: ``type``, ``created``, ``verificationMethod``, ``proofPurpose`` (no ``proofValue``), canonicalized
  with the document's ``@context`` as their own.
- Canonicalization: RDF Dataset Canonicalization (URDNA2015) to N-Quads, of the options and of the document without
  ``proof``; the contexts come only from :data:`CONTEXTS` (never fetched: a verifier that fetched contexts would let
  their host change what a signature means).
- Data signed: ``sha256(options) || sha256(document)``, 64 bytes, with Ed25519; ``proofValue`` is the signature in
  multibase base58btc (``z…``).

Only terms a context defines are signed (RDF drops the rest): :func:`vc_1_1` adds an ``@vocab`` (the W3C's
"issuer-dependent" namespace, as the VC 2.0 undefined-terms context does) so that every claim of ours is covered.
The JSON-LD processing is pyld's; this module owns the suite.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyld import jsonld

from ssi.errors import ProofError, SignatureError
from ssi.keys import SigningKey, VerifyKey, decode_signature
from ssi.multibase import multibase_encode

PROOF_TYPE = "Ed25519Signature2020"
VC_V1 = "https://www.w3.org/2018/credentials/v1"
ED25519_2020 = "https://w3id.org/security/suites/ed25519-2020/v1"
# What the W3C's https://www.w3.org/ns/credentials/undefined-terms/v2 context says, inline (so no wallet needs to
# fetch it): terms no other context defines are issuer-dependent IRIs, and so they are signed.
UNDEFINED_TERMS = {"@vocab": "https://www.w3.org/ns/credentials/issuer-dependent#"}

_FOLDER = Path(__file__).with_name("contexts")
CONTEXTS: dict[str, dict[str, Any]] = {
    VC_V1: json.loads((_FOLDER / "credentials-v1.jsonld").read_text()),
    ED25519_2020: json.loads((_FOLDER / "ed25519-signature-2020-v1.jsonld").read_text()),
}


def _load(url: str, options: Any = None) -> dict[str, Any]:
    document = CONTEXTS.get(url)
    if document is None:
        raise jsonld.JsonLdError(f"context {url} is not one this verifier knows", "jsonld.LoadDocumentError")
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(document)}


def canonicalize(document: Mapping[str, Any]) -> str:
    """URDNA2015 N-Quads of ``document`` (contexts from :data:`CONTEXTS` only). Raises ProofError if it cannot."""
    try:
        return jsonld.normalize(
            dict(document), {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _load}
        )
    except jsonld.JsonLdError as exc:
        root: BaseException = exc
        while root.__cause__ is not None:  # pyld wraps the reason (an unknown context, say) in general errors
            root = root.__cause__
        message = root.args[0] if isinstance(root, jsonld.JsonLdError) and root.args else str(root)
        raise ProofError(f"cannot canonicalize: {message}") from None


# VC DM 2.0 member -> its VC DM 1.1 name (the 2.0 names of the validity period; the rest are the same).
_V1_NAMES = {"validFrom": "issuanceDate", "validUntil": "expirationDate"}


def vc_1_1(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The VC DM 1.1 form of a VC DM 2.0 credential (its proof left out): the same members, the validity period
    under its 1.1 names, and the contexts this suite needs (VC 1.1, Ed25519Signature2020, :data:`UNDEFINED_TERMS`)."""
    out: dict[str, Any] = {"@context": [VC_V1, ED25519_2020, UNDEFINED_TERMS]}
    for key, value in credential.items():
        if key not in ("@context", "proof"):
            out[_V1_NAMES.get(key, key)] = copy.deepcopy(value)
    if "issuanceDate" not in out:
        raise ProofError("a VC 1.1 credential needs an issuance date: the credential has no validFrom")
    return out


def _verify_data(options: Mapping[str, Any], document: Mapping[str, Any]) -> bytes:
    config = {k: v for k, v in options.items() if k not in ("proofValue", "jws", "signatureValue")}
    config["@context"] = document.get("@context")
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return (
        hashlib.sha256(canonicalize(config).encode()).digest()
        + hashlib.sha256(canonicalize(unsecured).encode()).digest()
    )


def sign(
    document: Mapping[str, Any],
    key: SigningKey,
    *,
    verification_method: str,
    created: str,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """``document`` with an Ed25519Signature2020 proof by ``key`` (any existing proof is replaced)."""
    options = {
        "type": PROOF_TYPE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    signed = {k: v for k, v in document.items() if k != "proof"}
    signed["proof"] = {**options, "proofValue": multibase_encode(key.sign(_verify_data(options, signed)), "z")}
    return signed


def verify(document: Mapping[str, Any], key: VerifyKey) -> None:
    """Check the document's one Ed25519Signature2020 proof against ``key``; ProofError says why it fails."""
    proof = document.get("proof")
    if not isinstance(proof, Mapping) or proof.get("type") != PROOF_TYPE:
        raise ProofError(f"expected one {PROOF_TYPE} proof")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("proofValue must be base58btc multibase")
    try:
        key.verify(_verify_data(proof, document), decode_signature(value))
    except SignatureError as exc:
        raise ProofError(f"proof does not verify: {exc}") from None
