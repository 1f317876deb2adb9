"""did:key for Ed25519 (W3C CCG did:key v0.7, Multikey representation).

``did:key:z6Mk…`` is the Ed25519 public key as a Multikey. Resolution is pure
computation: the document has one Ed25519 verification method ``did#z6Mk…``
for authentication, assertion, capability invocation and delegation, and, per
the spec's "Encryption Method Creation Algorithm", a derived X25519 key
``did#z6LS…`` for keyAgreement.
"""

from __future__ import annotations

import functools
from typing import Any

from ssi.errors import DIDError, KeyError_
from ssi.keys import VerifyKey

PREFIX = "did:key:"
CONTEXT = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]


def did_key(key: VerifyKey | str) -> str:
    """The did:key for an Ed25519 key (VerifyKey or ``z6Mk…`` string)."""
    mb = key if isinstance(key, str) else key.multibase
    VerifyKey.from_multibase(mb)  # validates
    return PREFIX + mb


def key_url(key: VerifyKey | str) -> str:
    """``did:key:z6Mk…#z6Mk…``: the verificationMethod URL for proofs."""
    mb = key if isinstance(key, str) else key.multibase
    return f"{PREFIX}{mb}#{mb}"


def verify_key_from_did_key(did_or_url: str, *, require_fragment: bool = False) -> VerifyKey:
    """The Ed25519 key a did:key (or did:key URL) names.

    A URL's fragment must be the same Multikey as its body: a verifier that
    authorised by the fragment but verified with the body's key would accept a
    forgery (didwebvh test suite, negative-did-key-body-fragment-mismatch).
    """
    if not isinstance(did_or_url, str) or not did_or_url.startswith(PREFIX):
        raise DIDError(f"not a did:key: {did_or_url!r}")
    body, sep, fragment = did_or_url[len(PREFIX) :].partition("#")
    if require_fragment and not sep:
        raise DIDError("verification method must be a did:key URL with a fragment")
    if sep and fragment != body:
        raise DIDError("did:key fragment does not match its key")
    try:
        return VerifyKey.from_multibase(body)
    except KeyError_ as exc:
        raise DIDError(f"unsupported did:key: {exc}") from None


@functools.lru_cache(maxsize=1024)
def method_key_from_did_key(verification_method: str) -> VerifyKey:
    """The key a did:key verification method URL (``did:key:z6Mk…#z6Mk…``, fragment required and equal to the
    body) names, as :func:`verify_key_from_did_key` reads it.

    Kept in a bounded LRU keyed by the whole URL: a did:key URL is its key, so the same string always names the
    same key, and a verifier meets the same few issuers over and over. Only keys are kept, never a verdict; a
    malformed URL raises :class:`DIDError` each time (exceptions are not cached)."""
    return verify_key_from_did_key(verification_method, require_fragment=True)


def resolve_did_key(did: str) -> dict[str, Any]:
    """Resolve an Ed25519 did:key into its DID document."""
    if "#" in did or "?" in did:
        raise DIDError("resolve a DID, not a DID URL")
    vk = verify_key_from_did_key(did)
    mb = vk.multibase
    x_mb = vk.to_x25519().multibase
    vm_id = f"{did}#{mb}"
    ka_id = f"{did}#{x_mb}"
    return {
        "@context": list(CONTEXT),
        "id": did,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": did, "publicKeyMultibase": mb},
            {"id": ka_id, "type": "Multikey", "controller": did, "publicKeyMultibase": x_mb},
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
        "keyAgreement": [ka_id],
    }
