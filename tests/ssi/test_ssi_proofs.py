"""eddsa-jcs-2022 against the W3C vectors, and the allowlist (SECURITY 9)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ssi import jcs
from ssi.errors import ProofError
from ssi.keys import SigningKey
from ssi.multibase import b58encode
from ssi.proofs import create_proof, hash_data, sign_document, verify_proof

VEC = Path(__file__).resolve().parents[1] / "data" / "ssi" / "vc-di-eddsa"


def _vec(name: str) -> str:
    return (VEC / "eddsa-jcs-2022" / name).read_text().strip()


@pytest.fixture
def vector_key() -> SigningKey:
    kp = json.loads((VEC / "keyPair.json").read_text())
    key = SigningKey.from_multibase(kp["privateKeyMultibase"])
    assert key.multibase == kp["publicKeyMultibase"]
    return key


@pytest.fixture
def unsigned() -> dict:
    return json.loads((VEC / "unsigned.json").read_text())


def test_canonical_document_matches_w3c_vector(unsigned):
    assert jcs.canonicalize(unsigned).decode() == _vec("canonDocJCS.txt")


def test_canonical_proof_config_and_hashes_match_w3c_vectors(unsigned):
    config = json.loads(_vec("proofConfigJCS.json"))
    canon_config = jcs.canonicalize(config)
    assert canon_config.decode() == _vec("proofCanonJCS.txt")
    data = hash_data(canon_config, jcs.canonicalize(unsigned))
    assert data[:32].hex() == _vec("proofHashJCS.txt")
    assert data[32:].hex() == _vec("docHashJCS.txt")
    assert data.hex() == _vec("combinedHashJCS.txt")


def test_signature_matches_w3c_vector_byte_for_byte(vector_key, unsigned):
    proof = create_proof(unsigned, vector_key, created="2023-02-24T23:36:38Z")
    assert proof["proofValue"] == _vec("sigBTC58JCS.txt")
    assert "z" + b58encode(bytes.fromhex(_vec("sigHexJCS.txt"))) == proof["proofValue"]
    signed = json.loads(_vec("signedJCS.json"))
    assert {**unsigned, "proof": proof} == signed


def test_w3c_signed_credential_verifies(vector_key):
    signed = json.loads(_vec("signedJCS.json"))
    assert verify_proof(signed) == vector_key.verify_key


def test_fast_canonicalization_path_agrees_on_vector():
    text = (VEC / "unsigned.json").read_text()
    value, simple = jcs.loads(text)
    assert simple
    assert jcs.canonicalize(value, simple=True) == jcs.canonicalize(value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cryptosuite", "ecdsa-jcs-2019"),
        ("cryptosuite", "eddsa-rdfc-2022"),
        ("cryptosuite", None),
        ("type", "Ed25519Signature2020"),
        ("alg", "none"),
        ("proofPurpose", "authentication"),
    ],
)
def test_proof_outside_allowlist_is_rejected(field, value):
    signed = json.loads(_vec("signedJCS.json"))
    signed["proof"][field] = value
    with pytest.raises(ProofError):
        verify_proof(signed)


def test_tampered_credential_is_rejected():
    signed = json.loads(_vec("signedJCS.json"))
    signed["credentialSubject"]["alumniOf"] = "Elsewhere"
    with pytest.raises(ProofError, match="does not verify"):
        verify_proof(signed)


def test_proof_by_other_key_with_matching_fragment_is_rejected(make_key):
    alice, mallory = make_key(1), make_key(9)
    doc = {"hello": "world"}
    proof = create_proof(doc, mallory)
    proof["verificationMethod"] = f"did:key:{mallory.multibase}#{alice.multibase}"
    with pytest.raises(ProofError, match="fragment"):
        verify_proof(doc, proof)


def test_sign_then_verify_round_trip_with_custom_resolver(make_key):
    key = make_key(5)
    doc = sign_document({"a": 1}, key, verification_method="did:example:x#k1")
    assert verify_proof(doc, resolve_key=lambda vm: key.verify_key) == key.verify_key
    other = copy.deepcopy(doc)
    other["a"] = 2
    with pytest.raises(ProofError):
        verify_proof(other, resolve_key=lambda vm: key.verify_key)
