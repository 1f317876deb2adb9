"""ssi.move: a package sealed to the destination's move key opens only with that key, and both sides name the same
plaintext by the same SHA-256."""

from __future__ import annotations

import base64
import hashlib
import zlib

import nacl.public
import pytest

from ssi import jcs, move

PACKAGE = {
    "format": "thingstead-move/1",
    "twin": {"slug": "abc", "did": "did:webvh:QmScid:a.example:twins:abc"},
    "parts": {"twin": {"name": "Grinder ☕", "agent_seed": "c2VjcmV0"}, "readings": [{"v": 1.5}]},
}


def test_sealed_package_opens_with_the_private_half_and_is_the_same_package():
    keys = move.new_keys()
    sealed = move.seal(PACKAGE, keys.public)
    package, sha256 = move.unseal(sealed.ciphertext, keys.private)
    assert package == PACKAGE
    assert sha256 == sealed.sha256


def test_digest_is_sha256_of_the_rfc8785_canonical_plaintext():
    sealed = move.seal(PACKAGE, move.new_keys().public)
    assert sealed.sha256 == hashlib.sha256(jcs.canonicalize(PACKAGE)).hexdigest()
    # Key order does not change what the package is called.
    reordered = dict(reversed(list(PACKAGE.items())))
    assert move.seal(reordered, move.new_keys().public).sha256 == sealed.sha256


def test_ciphertext_does_not_contain_the_plaintext_and_differs_each_time():
    keys = move.new_keys()
    first = move.seal(PACKAGE, keys.public).ciphertext
    second = move.seal(PACKAGE, keys.public).ciphertext
    assert first != second  # an ephemeral key per seal
    assert b"c2VjcmV0" not in first and b"thingstead-move" not in first
    assert len(first) == len(zlib.compress(move.canonical(PACKAGE), 6)) + move.OVERHEAD


def test_another_key_cannot_open_it():
    sealed = move.seal(PACKAGE, move.new_keys().public)
    with pytest.raises(move.MoveError, match="does not open"):
        move.unseal(sealed.ciphertext, move.new_keys().private)


@pytest.mark.parametrize("position", [0, 40, 60, -1])
def test_a_changed_byte_anywhere_is_refused(position):
    keys = move.new_keys()
    ciphertext = bytearray(move.seal(PACKAGE, keys.public).ciphertext)
    ciphertext[position] ^= 0x01
    with pytest.raises(move.MoveError):
        move.unseal(bytes(ciphertext), keys.private)


def test_truncated_or_empty_ciphertext_is_refused_with_a_reason():
    keys = move.new_keys()
    with pytest.raises(move.MoveError, match="too short"):
        move.unseal(b"", keys.private)
    with pytest.raises(move.MoveError, match="too short"):
        move.unseal(b"x" * move.OVERHEAD, keys.private)


def test_a_sealed_non_object_is_refused():
    keys = move.new_keys()
    box = nacl.public.SealedBox(nacl.public.PublicKey(keys.public))
    with pytest.raises(move.MoveError, match="not a JSON object"):
        move.unseal(box.encrypt(zlib.compress(b"[1, 2]")), keys.private)
    with pytest.raises(move.MoveError, match="not JSON"):
        move.unseal(box.encrypt(zlib.compress(b"\xff\xfe not json")), keys.private)
    with pytest.raises(move.MoveError, match="not compressed"):
        move.unseal(box.encrypt(b'{"not": "compressed"}'), keys.private)
    with pytest.raises(move.MoveError, match="cut short"):
        move.unseal(box.encrypt(zlib.compress(b'{"a": 1}')[:-3]), keys.private)


def test_readings_shrink_when_sealed():
    readings = [{"value": n / 10, "at": f"2026-12-0{n % 9 + 1}"} for n in range(5000)]
    package = {**PACKAGE, "parts": {"readings": readings}}
    assert len(move.seal(package, move.new_keys().public).ciphertext) * 4 < len(move.canonical(package))


def test_a_package_that_would_inflate_past_the_limit_is_refused_before_it_has():
    keys = move.new_keys()
    bomb = {"format": "x", "pad": "a" * 5_000_000}  # 5 MB of one letter: a few kilobytes sealed
    sealed = move.seal(bomb, keys.public)
    assert len(sealed.ciphertext) < 20_000
    with pytest.raises(move.MoveError, match="larger than 1000000 bytes"):
        move.unseal(sealed.ciphertext, keys.private, max_bytes=1_000_000)
    assert move.unseal(sealed.ciphertext, keys.private)[0] == bomb


def test_public_key_text_round_trips_and_bad_keys_are_refused():
    keys = move.new_keys()
    text = move.public_key_text(keys.public)
    assert move.public_key_from_text(text) == keys.public
    for bad, reason in [
        (None, "base64 text"),
        ("not base64!", "not base64"),
        (base64.b64encode(b"short").decode(), "32 bytes"),
        (base64.b64encode(bytes(32)).decode(), "all zeros"),
        ("é", "not base64"),
    ]:
        with pytest.raises(move.MoveError, match=reason):
            move.public_key_from_text(bad)


def test_keys_repr_never_shows_the_private_half():
    keys = move.new_keys()
    assert base64.b64encode(keys.private).decode() not in repr(keys)
    assert keys.private.hex() not in repr(keys)


def test_a_package_that_is_not_an_object_cannot_be_sealed():
    with pytest.raises(move.MoveError):
        move.seal(["not", "a", "package"], move.new_keys().public)  # type: ignore[arg-type]
    with pytest.raises(move.MoveError):
        move.seal(PACKAGE, b"short")


def _sealed_raw(plaintext: bytes, keys: move.MoveKeys) -> bytes:
    return nacl.public.SealedBox(nacl.public.PublicKey(keys.public)).encrypt(zlib.compress(plaintext, 9))


def test_a_package_of_millions_of_tiny_values_is_refused_before_it_is_parsed():
    # Issue 18 review: a few hundred kilobytes sealed inflate to megabytes of "[]," (a Python object each).
    keys = move.new_keys()
    bomb = b'{"a": [' + b"[]," * 2_000_000 + b"[]]}"
    ciphertext = _sealed_raw(bomb, keys)
    assert len(ciphertext) < 50_000
    with pytest.raises(move.MoveError, match="more than 1000000 JSON values"):
        move.unseal(ciphertext, keys.private, max_elements=1_000_000)


def test_the_value_bound_is_never_below_the_values_parsed():
    text = b'{"a": [1, {"b": [true, null, "x,y"]}, []], "c": {}}'
    # values: root, "a" list, 1, {b}, b list, true, null, "x,y", [], "c" dict, plus keys a, b, c
    assert move.value_bound(text) >= 13


def test_a_package_nested_deeper_than_the_parser_takes_is_refused_in_words():
    keys = move.new_keys()
    deep = b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    with pytest.raises(move.MoveError, match="not JSON"):
        move.unseal(_sealed_raw(deep, keys), keys.private)
