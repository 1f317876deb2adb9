"""The verification hot path's caches and shortcuts (bench/credentials.py) keep every verdict: the did:key method
key LRU is bounded and keyed by the whole URL (a changed key is never served from it), base58 read ten digits at a
time equals reading one at a time, and one number walk per signed document still sends unusual numbers down the
exact path."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime

import pytest

from ssi import credentials as vc
from ssi import didkey, jcs
from ssi.credentials import Verdict
from ssi.didkey import did_key, key_url, method_key_from_did_key
from ssi.errors import DIDError, EncodingError
from ssi.keys import SigningKey
from ssi.multibase import ALPHABET, b58decode, b58encode

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def key(n: int) -> SigningKey:
    return SigningKey.from_seed(n.to_bytes(32, "big"))


def signed_by(signer: SigningKey, **subject: object) -> dict:
    unsigned = vc.credential(
        issuer=did_key(signer.verify_key),
        subject={"id": "did:example:thing", **subject},
        valid_from="2026-01-01T00:00:00Z",
        valid_until="2030-01-01T00:00:00Z",
    )
    return vc.issue(unsigned, signer, created="2026-01-01T00:00:00Z")


# -- the did:key method key LRU --------------------------------------------------------------------------------


def test_method_key_cache_is_bounded():
    maxsize = method_key_from_did_key.cache_info().maxsize
    assert maxsize == 1024
    for n in range(1, maxsize + 40):
        method_key_from_did_key(key_url(key(100_000 + n).verify_key))
    assert method_key_from_did_key.cache_info().currsize <= maxsize


def test_method_key_cache_serves_each_url_its_own_key():
    a, b = key(201).verify_key, key(202).verify_key
    assert method_key_from_did_key(key_url(a)) == a
    hits = method_key_from_did_key.cache_info().hits
    assert method_key_from_did_key(key_url(b)) == b  # another URL: its own key, not the cached one
    assert method_key_from_did_key(key_url(a)) == a
    assert method_key_from_did_key.cache_info().hits == hits + 1  # and the first one really came from the cache


def test_a_url_naming_another_key_in_its_fragment_is_refused_even_when_both_keys_are_cached():
    a, b = key(203).verify_key, key(204).verify_key
    method_key_from_did_key(key_url(a))
    method_key_from_did_key(key_url(b))
    for _ in range(2):  # refused each time: a failure is not kept
        with pytest.raises(DIDError, match="fragment does not match"):
            method_key_from_did_key(f"{did_key(a)}#{b.multibase}")
        with pytest.raises(DIDError, match="fragment"):
            method_key_from_did_key(did_key(a))  # no fragment at all


def test_a_credential_pointed_at_another_key_after_its_own_was_cached_is_tampered():
    alice, mallory = key(205), key(206)
    genuine = signed_by(alice, model="G-200")
    assert vc.verify_credential(genuine, now=NOW).ok  # alice's key is now cached
    vc.verify_credential(signed_by(mallory, model="G-200"), now=NOW)  # and mallory's
    # Alice's signature, now claimed by mallory (issuer and verification method both moved to mallory's key).
    forged = dict(genuine, issuer=did_key(mallory.verify_key))
    forged["proof"] = dict(genuine["proof"], verificationMethod=key_url(mallory.verify_key))
    result = vc.verify_credential(forged, now=NOW)
    assert result.verdict is Verdict.TAMPERED
    assert vc.verify_credential(genuine, now=NOW).ok


def test_the_did_key_resolver_uses_the_cached_reader():
    k = key(207).verify_key
    assert vc.resolve_did_key(key_url(k), purpose="assertionMethod", at=NOW) == k
    assert didkey.method_key_from_did_key is method_key_from_did_key


def test_the_day_cache_is_bounded():
    assert vc.day.cache_info().maxsize == 256
    assert vc.day(datetime(2027, 3, 3, 12, tzinfo=UTC)) == "3 March 2027"


# -- base58 ten digits at a time --------------------------------------------------------------------------------


def _b58decode_digit_by_digit(text: str) -> bytes:
    n = 0
    for c in text:
        n = n * 58 + ALPHABET.index(c)
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")


def test_b58decode_equals_digit_by_digit_decoding_at_every_length():
    rng = random.Random(58)
    for length in range(0, 130):
        text = "".join(rng.choice(ALPHABET) for _ in range(length))
        for spelled in (text, "1" + text, "111" + text):
            assert b58decode(spelled) == _b58decode_digit_by_digit(spelled), spelled
    for size in range(0, 100):
        data = os.urandom(size)
        assert b58decode(b58encode(data)) == data
        assert b58decode(b58encode(b"\0\0" + data)) == b"\0\0" + data


def test_b58decode_still_refuses_a_foreign_character_anywhere():
    text = b58encode(os.urandom(64))
    for i in (0, 9, 10, 11, len(text) - 1):
        with pytest.raises(EncodingError):
            b58decode(text[:i] + "0" + text[i + 1 :])


# -- one number walk per signed document --------------------------------------------------------------------------


def test_plain_canonicalization_equals_the_checked_one_for_what_the_walk_vouches_for():
    doc = signed_by(key(208), model="G-200", count=3)
    assert jcs.plain_numbers(doc)
    unsecured = {k: v for k, v in doc.items() if k != "proof"}
    assert jcs.canonicalize(unsecured, plain=True) == jcs.canonicalize(unsecured) == jcs.serialize(unsecured)


def test_numbers_the_fast_printer_gets_wrong_still_verify_through_the_exact_path():
    doc = signed_by(key(209), reading=1e-7, weight=21.0, big=2**53 - 1)
    assert not jcs.plain_numbers(doc)  # 1e-7 and 21.0 print differently in Python and in RFC 8785
    assert vc.verify_credential(doc, now=NOW).ok
    changed = dict(doc, credentialSubject=dict(doc["credentialSubject"], reading=2e-7))
    assert vc.verify_credential(changed, now=NOW).verdict is Verdict.TAMPERED
