"""did:peer:2 and :4 agree with the did-peer-2 / did-peer-4 packages (SECURITY 12)."""

from __future__ import annotations

import copy

import did_peer_2
import did_peer_4
import pytest

from ssi import didpeer
from ssi.errors import DIDError
from ssi.keys import SigningKey
from ssi.multibase import b58encode, b64url_encode

SERVICE = {
    "type": "DIDCommMessaging",
    "serviceEndpoint": {"uri": "https://example.com/didcomm", "accept": ["didcomm/v2"], "routingKeys": []},
}
LEGACY = {
    "id": "#didcomm-0",
    "type": "did-communication",
    "priority": 0,
    "recipientKeys": ["#key-1"],
    "serviceEndpoint": "https://example.com/agent",
}


def keys(n: int) -> tuple[str, str]:
    k = SigningKey.from_seed(n.to_bytes(32, "big"))
    return k.multibase, k.verify_key.to_x25519().multibase


@pytest.mark.parametrize("services", [[], [SERVICE], [SERVICE, LEGACY, dict(SERVICE)]])
def test_peer2_encoding_matches_did_peer_2(services):
    ed, x = keys(1)
    ours = didpeer.peer2([("V", ed), ("E", x), ("A", ed)], services)
    theirs = did_peer_2.generate(
        [did_peer_2.KeySpec.verification(ed), did_peer_2.KeySpec.key_agreement(x), did_peer_2.KeySpec.assertion(ed)],
        copy.deepcopy(services),
    )
    assert ours == theirs


@pytest.mark.parametrize("services", [[], [SERVICE], [SERVICE, LEGACY, dict(SERVICE)]])
def test_peer2_resolution_matches_did_peer_2_both_ways(services):
    ed, x = keys(2)
    ours_did = didpeer.peer2([("V", ed), ("E", x)], services)
    theirs_did = did_peer_2.generate(
        [did_peer_2.KeySpec.verification(ed), did_peer_2.KeySpec.key_agreement(x)], copy.deepcopy(services)
    )
    assert didpeer.resolve_peer2(theirs_did) == did_peer_2.resolve(ours_did)
    assert didpeer.peer2_to_peer3(ours_did) == did_peer_2.peer2to3(ours_did)


def test_peer2_rejects_malformed_dids_and_wrong_key_types():
    ed, _x = keys(3)
    for bad in ["did:peer:2", "did:peer:2.Xz6Mk", "did:peer:2.V" + ed[1:], "did:peer:2.S!!"]:
        with pytest.raises(DIDError):
            didpeer.resolve_peer2(bad)
    with pytest.raises(DIDError):
        didpeer.peer2([("E", ed)])


def _input_doc() -> dict:
    ed, x = keys(4)
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "verificationMethod": [
            {"id": "#key-1", "type": "Multikey", "publicKeyMultibase": ed},
            {"id": "#key-2", "type": "Multikey", "publicKeyMultibase": x},
        ],
        "authentication": ["#key-1"],
        "keyAgreement": ["#key-2"],
        "service": [{"id": "#didcomm", "type": "DIDCommMessaging", "serviceEndpoint": "https://example.com/didcomm"}],
    }


def test_peer4_encoding_matches_did_peer_4():
    doc = _input_doc()
    assert didpeer.peer4(doc) == did_peer_4.encode(copy.deepcopy(doc))
    assert didpeer.peer4_short(didpeer.peer4(doc)) == did_peer_4.encode_short(copy.deepcopy(doc))


def test_peer4_resolution_matches_did_peer_4_both_ways():
    doc = _input_doc()
    long_ours, long_theirs = didpeer.peer4(doc), did_peer_4.encode(copy.deepcopy(doc))
    assert didpeer.resolve_peer4(long_theirs) == did_peer_4.resolve(long_ours)
    assert didpeer.resolve_peer4_short(long_theirs) == did_peer_4.resolve_short(long_ours)
    short = did_peer_4.long_to_short(long_theirs)
    assert didpeer.resolve_peer4_short_from_doc(doc, short) == did_peer_4.resolve_short_from_doc(
        copy.deepcopy(doc), short
    )


def test_peer4_long_form_with_mismatched_hash_is_rejected():
    long_a = didpeer.peer4(_input_doc())
    other = _input_doc() | {"alsoKnownAs": ["did:example:evil"]}
    long_b = didpeer.peer4(other)
    forged = long_a[: long_a.rfind(":")] + long_b[long_b.rfind(":") :]
    with pytest.raises(DIDError, match="hash does not match"):
        didpeer.resolve_peer4(forged)
    with pytest.raises(ValueError):  # the independent implementation agrees
        did_peer_4.resolve(forged)


def test_peer4_short_form_cannot_be_resolved_without_document():
    short = didpeer.peer4_short(didpeer.peer4(_input_doc()))
    with pytest.raises(DIDError, match="short-form"):
        didpeer.resolve_peer4(short)
    with pytest.raises(DIDError, match="does not match"):
        didpeer.resolve_peer4_short_from_doc(_input_doc() | {"alsoKnownAs": []}, short)


def test_peer4_input_document_rules():
    with pytest.raises(DIDError):
        didpeer.peer4({"id": "did:example:1"})
    with pytest.raises(DIDError):
        didpeer.peer4({"service": [{"type": "X", "serviceEndpoint": "https://x"}]})


DEEP = b"[" * 20_000 + b"]" * 20_000  # JSON Python's parser cannot hold (RecursionError, not ValueError)


def test_a_did_peer_2_service_nested_too_deeply_is_a_did_error():
    ed, x = keys(5)
    did = f"did:peer:2.V{ed}.E{x}.S{b64url_encode(DEEP)}"
    with pytest.raises(DIDError, match="undecodable service"):
        didpeer.resolve_peer2(did)


def test_a_did_peer_4_document_nested_too_deeply_is_a_did_error():
    encoded = "z" + b58encode(didpeer.JSON_CODEC + DEEP)
    with pytest.raises(DIDError, match="not JSON"):
        didpeer.decode_peer4(f"did:peer:4{didpeer._hash_encoded(encoded)}:{encoded}")
