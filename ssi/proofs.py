"""Data Integrity proofs with the ``eddsa-jcs-2022`` cryptosuite.

W3C "Data Integrity EdDSA Cryptosuites v1.0", §3.3 (eddsa-jcs-2022):

- Transformation (§3.3.3): JCS (RFC 8785) of the document without ``proof``.
- Proof configuration (§3.3.5): the proof options without ``proofValue``; if
  the document has ``@context`` the options carry the same ``@context``.
  JCS of that.
- Hashing (§3.3.4): ``sha256(canonical proof config) || sha256(canonical doc)``
  (proof hash first), 64 bytes, signed with Ed25519.
- ``proofValue`` is the signature, multibase base58btc (``z…``).

Only suites in :data:`ALLOWED_CRYPTOSUITES` are accepted, only proof type
``DataIntegrityProof``, only did:key verification methods whose fragment
equals their key (SECURITY item 9; anything else, including JOSE-style
``alg: none``, is rejected with :class:`ProofError`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ssi import jcs
from ssi.didkey import key_url, method_key_from_did_key
from ssi.errors import DIDError, EncodingError, ProofError, SignatureError, SSIError
from ssi.keys import SigningKey, VerifyKey
from ssi.multibase import b58decode, multibase_encode

CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_TYPE = "DataIntegrityProof"
ALLOWED_CRYPTOSUITES = frozenset({CRYPTOSUITE})

KeyResolver = Callable[[str], VerifyKey]
_sha256 = hashlib.sha256


def now_iso() -> str:
    """Current UTC time as ``YYYY-MM-DDTHH:MM:SSZ`` (XML Schema dateTimeStamp)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def hash_data(canonical_proof_config: bytes, canonical_document: bytes) -> bytes:
    """§3.3.4: the 64-byte value that is signed."""
    return hashlib.sha256(canonical_proof_config).digest() + hashlib.sha256(canonical_document).digest()


def _unsecured(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "proof"}


def create_proof(
    document: Mapping[str, Any],
    key: SigningKey,
    *,
    verification_method: str | None = None,
    proof_purpose: str = "assertionMethod",
    created: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Sign ``document`` (any existing ``proof`` member is ignored).

    Returns the proof object; the caller attaches it (did:webvh wants a list).
    ``verification_method`` defaults to the key's did:key URL.
    """
    options: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "verificationMethod": verification_method or key_url(key.verify_key),
        "created": created or now_iso(),
        "proofPurpose": proof_purpose,
    }
    if extra:
        options.update(extra)
    if "@context" in document:
        options["@context"] = document["@context"]
    data = hash_data(jcs.canonicalize(options), jcs.canonicalize(_unsecured(document)))
    options["proofValue"] = multibase_encode(key.sign(data), "z")
    return options


def sign_document(document: Mapping[str, Any], key: SigningKey, **kwargs: Any) -> dict[str, Any]:
    """Return a copy of ``document`` with a single proof attached."""
    signed = _unsecured(document)
    signed["proof"] = create_proof(document, key, **kwargs)
    return signed


def _context_prefix(proof_ctx: Any, doc_ctx: Any) -> bool:
    p = proof_ctx if isinstance(proof_ctx, list) else [proof_ctx]
    d = doc_ctx if isinstance(doc_ctx, list) else [doc_ctx]
    return doc_ctx is not None and d[: len(p)] == p


def check_proof_shape(proof: Any, *, expected_purpose: str | None = None) -> None:
    """Reject anything but an allowlisted Data Integrity proof (SECURITY 9)."""
    if not isinstance(proof, dict):
        raise ProofError("proof must be a JSON object")
    if "alg" in proof or "jws" in proof:
        raise ProofError("JOSE-style proofs (alg/jws) are not accepted")
    if proof.get("type") != PROOF_TYPE:
        raise ProofError(f"unsupported proof type {proof.get('type')!r}")
    suite = proof.get("cryptosuite")
    if suite not in ALLOWED_CRYPTOSUITES:
        raise ProofError(f"cryptosuite {suite!r} is not allowed")
    if not isinstance(proof.get("proofValue"), str):
        raise ProofError("missing proofValue")
    if not isinstance(proof.get("verificationMethod"), str):
        raise ProofError("missing verificationMethod")
    purpose = proof.get("proofPurpose")
    if expected_purpose is not None and purpose != expected_purpose:
        raise ProofError(f"proofPurpose must be {expected_purpose!r}, got {purpose!r}")


def proof_key(proof: Mapping[str, Any]) -> VerifyKey:
    """The key a proof's did:key verificationMethod names (body == fragment)."""
    try:  # the same reading as verify_key_from_did_key(..., require_fragment=True), kept per URL
        return method_key_from_did_key(proof["verificationMethod"])
    except DIDError as exc:
        raise ProofError(f"bad verificationMethod: {exc}") from None


def verify_proof(
    document: Mapping[str, Any],
    proof: Mapping[str, Any] | None = None,
    *,
    expected_purpose: str | None = "assertionMethod",
    resolve_key: KeyResolver | None = None,
    canonical_document: bytes | None = None,
    document_digest: bytes | None = None,
    simple: bool = False,
) -> VerifyKey:
    """Verify one eddsa-jcs-2022 proof; return the key that made it.

    ``proof`` defaults to ``document["proof"]`` (which must then be a single
    object). ``resolve_key`` maps a verificationMethod URL to a key; the
    default accepts only did:key URLs. ``canonical_document`` lets a caller
    that already canonicalised the unsecured document skip doing it twice;
    ``document_digest`` (its SHA-256) skips hashing it too; ``simple`` is the
    :func:`ssi.jcs.loads` fast-path flag for ``proof``. Raises
    :class:`ProofError` for every failure.
    """
    if proof is None:
        proof = document.get("proof")
    check_proof_shape(proof, expected_purpose=expected_purpose)
    assert isinstance(proof, dict)
    if resolve_key is None:
        key = proof_key(proof)
    else:
        try:
            key = resolve_key(proof["verificationMethod"])
        except SSIError as exc:
            raise ProofError(f"cannot resolve verificationMethod: {exc}") from None
    if canonical_document is None and document_digest is None:
        canonical_document = jcs.canonicalize(_unsecured(document))
    verify_with_key(
        document, proof, key, canonical_document=canonical_document, document_digest=document_digest, simple=simple
    )
    return key


def verify_with_key(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    key: VerifyKey,
    *,
    canonical_document: bytes | None = None,
    document_digest: bytes | None = None,
    simple: bool = False,
    plain: bool = False,
) -> None:
    """The cryptographic half of :func:`verify_proof`, for a caller that has already checked the proof's shape
    (:func:`check_proof_shape`), resolved its key and canonicalised the unsecured document (the credential
    verifier does all three itself, once). ``plain``: the caller's :func:`ssi.jcs.plain_numbers` walk covered
    ``proof``. ``document_digest``: the SHA-256 of the canonical unsecured document, in place of
    ``canonical_document``. Raises :class:`ProofError`."""
    ctx = proof.get("@context")
    # §3.3.2 step 3: the document's @context must start with the proof's (equal, as signers write it, is a prefix).
    if ctx is not None and ctx != document.get("@context") and not _context_prefix(ctx, document.get("@context")):
        raise ProofError("proof @context does not match the document")
    config = dict(proof)  # the proof configuration: the proof without its value (a C copy, then one deletion)
    value = config.pop("proofValue")
    if document_digest is None:
        document_digest = _sha256(canonical_document).digest()
    data = _sha256(jcs.canonicalize(config, simple=simple, plain=plain)).digest() + document_digest
    try:
        if not value.startswith("z"):
            raise SignatureError("proofValue must be base58btc multibase")
        try:
            signature = b58decode(value[1:])  # what decode_signature does for "z", without its two wrappers
        except EncodingError as exc:
            raise SignatureError(f"bad signature encoding: {exc}") from None
        key.verify(data, signature)  # which requires 64 bytes
    except SignatureError as exc:
        raise ProofError(f"proof does not verify: {exc}") from None
