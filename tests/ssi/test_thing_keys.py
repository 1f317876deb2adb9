"""ssi.thing_keys: per-thing owner keys derived with HKDF-SHA256 (RFC 5869) from a root key and a thing's DID path."""

from __future__ import annotations

import pytest

from ssi.errors import SSIError
from ssi.keys import SigningKey
from ssi.sign import main as sign_main
from ssi.thing_keys import SALT, hkdf_sha256, thing_context, thing_key
from ssi.webvh import next_key_hash

ROOT = SigningKey.from_seed(bytes(range(32)))
DID = "did:webvh:QmSCID:example.com%3A8000:twins:abc"


def test_hkdf_sha256_matches_rfc5869_test_case_1():
    okm = hkdf_sha256(
        bytes.fromhex("0b" * 22),
        salt=bytes.fromhex("000102030405060708090a0b0c"),
        info=bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        length=42,
    )
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


def test_thing_key_vector():
    # Cross-checked with the `cryptography` package's HKDF (SHA256, length 32, SALT, info = b"twins:abc").
    assert SALT == b"thingstead/thing-key/v1"
    assert thing_context(DID) == "twins:abc"
    key = thing_key(ROOT, DID)
    assert key.seed.hex() == "e07ce57f5d3c237ab01f535cae2d6d321d3783b392c85ed8da510a575baf72f0"
    assert key.multibase == "z6MknRy84NZ8iCtNJvMpNJkXbnQhbiofoypv4Q8oX5wkD544"
    assert next_key_hash(key.multibase) == "Qme5s8YDEwbZfd1UkaFePvztsum1t4Yevvdm3xXwzBoQkP"


def test_thing_key_is_the_same_for_every_did_of_the_thing_and_differs_per_thing_and_root():
    # The inception's template, and the DID after a move to another host: the same path, the same key.
    for same in ("did:webvh:{SCID}:example.com%3A8000:twins:abc", "did:webvh:QmSCID:other.example:twins:abc"):
        assert thing_key(ROOT, same).multibase == thing_key(ROOT, DID).multibase
    other_thing = thing_key(ROOT, "did:webvh:QmSCID:example.com%3A8000:twins:abd")
    other_root = thing_key(SigningKey.generate(), DID)
    assert len({ROOT.multibase, thing_key(ROOT, DID).multibase, other_thing.multibase, other_root.multibase}) == 4


@pytest.mark.parametrize(
    "bad", ["", "did:webvh:", "did:web:example.com:twins:abc", "did:webvh:QmSCID:example.com", "did:webvh:Qm::a", "a:b"]
)
def test_thing_context_refuses_what_is_not_a_things_webvh_did(bad):
    with pytest.raises(SSIError):
        thing_context(bad)


def test_cli_thingkey_derives_the_per_thing_key_from_the_downloaded_key_file(tmp_path, capsys):
    keyfile = tmp_path / "owner.key"
    keyfile.write_text(ROOT.private_multibase() + "\n", encoding="ascii")
    out = tmp_path / "thing.key"
    assert sign_main(["thingkey", str(keyfile), DID, "--write", str(out)]) == 0
    public, digest = capsys.readouterr().out.split()
    assert public == "z6MknRy84NZ8iCtNJvMpNJkXbnQhbiofoypv4Q8oX5wkD544"
    assert digest == "Qme5s8YDEwbZfd1UkaFePvztsum1t4Yevvdm3xXwzBoQkP"
    assert SigningKey.from_multibase(out.read_text().strip()).multibase == public
    assert sign_main(["thingkey", str(keyfile), DID, "--write", str(out)]) == 1  # never overwrites
    assert sign_main(["thingkey", str(keyfile), "did:web:example.com"]) == 1
