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
        ed.vc_1_1(unsigned),
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
        (("issuanceDate",), "2026-12-02T00:00:00Z"),
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


def test_the_vc_1_1_form_keeps_every_member_and_renames_the_validity_period():
    unsigned = vc.credential(
        issuer="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        subject={"id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "owns": "did:webvh:Qm:x"},
        id="urn:uuid:1",
        valid_from="2026-12-01T00:00:00Z",
        valid_until="2027-12-01T00:00:00Z",
        status={"type": "BitstringStatusListEntry", "statusListIndex": "4"},
    )

    form = ed.vc_1_1(unsigned)

    assert form["@context"] == [ed.VC_V1, ed.ED25519_2020, ed.UNDEFINED_TERMS]
    assert form["issuanceDate"] == "2026-12-01T00:00:00Z" and form["expirationDate"] == "2027-12-01T00:00:00Z"
    for member in ("id", "type", "issuer", "credentialSubject", "credentialStatus"):
        assert form[member] == unsigned[member]
    assert "validFrom" not in form and "validUntil" not in form


def test_a_credential_without_validfrom_has_no_vc_1_1_form():
    unsigned = vc.credential(issuer="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", subject={"a": 1})
    with pytest.raises(ProofError, match="issuance date"):
        ed.vc_1_1(unsigned)
