"""base58btc, multibase, Multikey, Ed25519/X25519 keys and did:key."""

from __future__ import annotations

import nacl.bindings
import pytest

from ssi import didkey, multibase
from ssi.errors import DIDError, EncodingError, KeyError_, SignatureError
from ssi.keys import SigningKey, VerifyKey, X25519PrivateKey


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"", ""),
        (b"\0", "1"),
        (b"\0\0\x01", "112"),
        (b"Hello World!", "2NEpo7TZRRrLZSi2U"),
        (
            b"The quick brown fox jumps over the lazy dog.",
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z",
        ),
    ],
)
def test_base58btc_known_values_round_trip(raw, text):
    assert multibase.b58encode(raw) == text
    assert multibase.b58decode(text) == raw


def test_base58_rejects_foreign_characters():
    for bad in ("0", "O", "I", "l", "abc+"):
        with pytest.raises(EncodingError):
            multibase.b58decode(bad)


def test_base64url_rejects_non_canonical_spellings():
    assert multibase.b64url_decode("AQ") == b"\x01"
    with pytest.raises(EncodingError):
        multibase.b64url_decode("AR")  # same bits as "AQ" plus a non-zero spare bit
    with pytest.raises(EncodingError):
        multibase.b64url_decode("A+")


def test_multikey_prefixes():
    k = SigningKey.from_seed(bytes(32))
    assert k.multibase.startswith("z6Mk")
    assert k.verify_key.to_x25519().multibase.startswith("z6LS")
    assert multibase.sha256_multihash(b"")[:2] == b"\x12\x20"


def test_ed25519_to_x25519_conversion_matches_libsodium_and_agrees_both_sides():
    k = SigningKey.generate()
    x_pub = k.verify_key.to_x25519()
    assert x_pub.raw == nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(k.verify_key.raw)
    assert k.to_x25519().public_key == x_pub
    other = X25519PrivateKey.generate()
    ours = nacl.bindings.crypto_scalarmult(k.to_x25519().raw, other.public_key.raw)
    theirs = nacl.bindings.crypto_scalarmult(other.raw, x_pub.raw)
    assert ours == theirs


def test_sign_and_verify_raise_one_error_type():
    k = SigningKey.from_seed(b"\x01" * 32)
    sig = k.sign(b"msg")
    k.verify_key.verify(b"msg", sig)
    with pytest.raises(SignatureError):
        k.verify_key.verify(b"msg!", sig)
    with pytest.raises(SignatureError):
        k.verify_key.verify(b"msg", sig[:10])
    with pytest.raises(KeyError_):
        VerifyKey.from_multibase("z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc")
    with pytest.raises(KeyError_):
        SigningKey.from_seed(b"short")


def test_did_key_document_has_ed25519_method_and_derived_x25519_agreement():
    k = SigningKey.from_seed(b"\x02" * 32)
    did = didkey.did_key(k.verify_key)
    doc = didkey.resolve_did_key(did)
    mb, x = k.multibase, k.verify_key.to_x25519().multibase
    assert doc["id"] == did == f"did:key:{mb}"
    assert doc["verificationMethod"][0]["publicKeyMultibase"] == mb
    assert doc["assertionMethod"] == doc["authentication"] == [f"{did}#{mb}"]
    assert doc["keyAgreement"] == [f"{did}#{x}"]
    assert didkey.verify_key_from_did_key(f"{did}#{mb}") == k.verify_key


def test_did_key_url_with_mismatched_fragment_is_rejected():
    a, b = SigningKey.from_seed(b"\x03" * 32), SigningKey.from_seed(b"\x04" * 32)
    with pytest.raises(DIDError, match="fragment"):
        didkey.verify_key_from_did_key(f"did:key:{a.multibase}#{b.multibase}")
    with pytest.raises(DIDError):
        didkey.resolve_did_key("did:key:zNotAKey")
