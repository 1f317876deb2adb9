"""ssi.ed25519_2020: Ed25519Signature2020 proofs over URDNA2015, with contexts only from the files kept in
ssi/contexts. (ACA-Py's verifier agreeing is tests/interop/test_acapy_issue_credential.py.)"""

from __future__ import annotations

import copy

import pytest

from ssi import credentials as vc
from ssi import ed25519_2020 as ed
from ssi.didkey import did_key, key_url
from ssi.errors import ProofError
from ssi.keys import SigningKey


def signed_credential(key: SigningKey) -> dict:
    unsigned = vc.credential(
        issuer=did_key(key.verify_key),
        subject={
            "id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            "owns": "did:webvh:Qm:x",
            "serial": "7",
        },
        types=["OwnershipCredential"],
        valid_from="2026-12-01T00:00:00Z",
    )
    return ed.sign(
        ed.credential_for_ld_proof(unsigned),
        key,
        verification_method=key_url(key.verify_key),
        created="2026-12-01T00:00:00Z",
    )


def test_a_signed_credential_verifies_with_its_key_and_not_with_another():
    key = SigningKey.generate()
    signed = signed_credential(key)

    ed.verify(signed, key.verify_key)
    with pytest.raises(ProofError, match="does not verify"):
        ed.verify(signed, SigningKey.generate().verify_key)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("credentialSubject", "owns"), "did:webvh:Qm:y"),  # a term only the @vocab defines: signed all the same
        (("credentialSubject", "serial"), "8"),
        (("validFrom",), "2026-12-02T00:00:00Z"),
        (("proof", "created"), "2026-12-02T00:00:00Z"),
    ],
)
def test_changing_any_claim_or_proof_option_breaks_the_proof(path, value):
    key = SigningKey.generate()
    changed = copy.deepcopy(signed_credential(key))
    target = changed
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value

    with pytest.raises(ProofError):
        ed.verify(changed, key.verify_key)


def test_a_context_not_kept_offline_is_refused_not_fetched():
    key = SigningKey.generate()
    document = signed_credential(key)
    document["@context"] = [*document["@context"], "https://example.org/contexts/v1"]

    with pytest.raises(ProofError, match="not one this verifier knows"):
        ed.verify(document, key.verify_key)


def test_the_suite_contexts_are_added_once_and_the_proof_is_replaced():
    key = SigningKey.generate()
    signed = signed_credential(key)
    again = ed.sign(
        ed.credential_for_ld_proof(signed),
        key,
        verification_method=key_url(key.verify_key),
        created="2026-12-03T00:00:00Z",
    )

    assert again["@context"] == [ed.VC_V2, ed.ED25519_2020, ed.UNDEFINED_TERMS]
    assert again["proof"]["created"] == "2026-12-03T00:00:00Z"
    ed.verify(again, key.verify_key)
