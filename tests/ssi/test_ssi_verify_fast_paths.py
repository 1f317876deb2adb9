"""The verification hot path's shortcuts (bench/credentials.py) give exactly what the plain paths give: JCS with
the reused C encoder and the printed-text check, base58 through bytes.translate."""

from __future__ import annotations

import os
import re

import pytest
import rfc8785

from ssi import jcs
from ssi.errors import EncodingError
from ssi.multibase import b58decode, b58encode


@pytest.mark.parametrize(
    "value",
    [
        {"\U0001f600": 1, "\ufb01": 2, "a": [1, 2.5, None, True, "é\n\u2028"]},  # UTF-16 key order beyond the BMP
        {"big": 2**53 - 1, "small": 1e-7, "exp": 1e21, "neg": -0.0},  # numbers only serialize prints right
        ["\U0001f600", {"k": "\u00e9"}],
    ],
)
def test_canonicalize_matches_the_reference_on_the_fast_and_slow_paths(value):
    assert jcs.canonicalize(value) == rfc8785.dumps(value)


def test_a_lone_surrogate_and_a_circular_value_are_encoding_errors():
    with pytest.raises(EncodingError):
        jcs.canonicalize({"a": "\ud800"})
    looped: dict = {}
    looped["self"] = looped
    with pytest.raises(EncodingError):
        jcs.canonicalize(looped)


def test_b58decode_round_trips_leading_zeros_and_names_a_foreign_character():
    for data in (b"", b"\0", b"\0\0\x01", os.urandom(64), b"\0" + os.urandom(33)):
        assert b58decode(b58encode(data)) == data
    for text, bad in (("abc0", "0"), ("Iabc", "I"), ("ab\u00e9", "\u00e9"), ("a\ud800", "\ud800")):
        with pytest.raises(EncodingError, match=re.escape(repr(bad))):
            b58decode(text)


@pytest.mark.parametrize("direct", [True, False], ids=["libsodium", "binding"])
def test_ed25519_verify_gives_the_same_verdicts_on_the_direct_call_and_the_binding(monkeypatch, direct):
    """VerifyKey.verify calls libsodium's crypto_sign_open without PyNaCl's output buffers; with the binding instead
    (_sodium_open off) every verdict is the same: a good signature passes, any altered byte or another key fails."""
    from ssi import keys
    from ssi.errors import SignatureError

    if not direct:
        monkeypatch.setattr(keys, "_sodium_open", None)
    else:
        assert keys._sodium_open is not None  # PyNaCl 1.6: the direct call is what runs
    signer, other = keys.SigningKey.from_seed(b"\x01" * 32), keys.SigningKey.from_seed(b"\x02" * 32)
    message = os.urandom(64)
    signature = signer.sign(message)
    signer.verify_key.verify(message, signature)
    signer.verify_key.verify(memoryview(message), bytearray(signature))  # any buffer, as before
    flipped_sig = bytes([signature[0] ^ 1]) + signature[1:]
    flipped_msg = message[:-1] + bytes([message[-1] ^ 0x80])
    for key, msg, sig in (
        (signer.verify_key, message, flipped_sig),
        (signer.verify_key, flipped_msg, signature),
        (signer.verify_key, message + b"x", signature),
        (other.verify_key, message, signature),
    ):
        with pytest.raises(SignatureError, match="does not verify"):
            key.verify(msg, sig)
    with pytest.raises(SignatureError, match="64 bytes"):
        signer.verify_key.verify(message, signature[:63])
