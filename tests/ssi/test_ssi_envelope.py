"""DIDComm v1 encryption envelope (Aries RFC 0019): round trips, format, and rejection.

Every way an envelope can be wrong must raise :class:`ssi.envelope.EnvelopeError`
and nothing else (the HTTP endpoint maps exactly that to 400).
"""

from __future__ import annotations

import base64
import json
import os

import nacl.bindings
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssi.envelope import (
    MEDIA_TYPE,
    EnvelopeError,
    Unpacked,
    pack,
    unpack,
)
from ssi.errors import SSIError
from ssi.keys import SigningKey
from ssi.multibase import b58encode


def verkey(key: SigningKey) -> str:
    return b58encode(key.verify_key.raw)


def key(n: int) -> SigningKey:
    return SigningKey.from_seed(n.to_bytes(32, "big"))


ALICE, BOB, CAROL, DAVE, EVE = (key(n) for n in range(1, 6))
MESSAGE = json.dumps({"@type": "https://didcomm.org/basicmessage/1.0/message", "@id": "1", "content": "héllo"}).encode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(envelope: bytes) -> tuple[dict, dict]:
    outer = json.loads(envelope)
    return outer, json.loads(unb64(outer["protected"]))


def with_header(outer: dict, header: dict) -> bytes:
    return json.dumps({**outer, "protected": b64(json.dumps(header).encode())}).encode()


def flip(text: str, index: int = 0) -> str:
    raw = bytearray(unb64(text))
    raw[index] ^= 0x01
    return b64(bytes(raw))


def authcrypt(*to: SigningKey, message: bytes = MESSAGE) -> bytes:
    return pack(message, to_verkeys=[verkey(k) for k in to], from_key=ALICE)


def anoncrypt(*to: SigningKey, message: bytes = MESSAGE) -> bytes:
    return pack(message, to_verkeys=[verkey(k) for k in to], from_key=None)


def mine(*keys: SigningKey) -> dict[str, SigningKey]:
    return {verkey(k): k for k in keys}


# -- round trips -------------------------------------------------------------


def test_media_type() -> None:
    assert MEDIA_TYPE == "application/didcomm-envelope-enc"


def test_authcrypt_one_recipient() -> None:
    result = unpack(authcrypt(BOB), my_keys=mine(BOB))
    assert result == Unpacked(MESSAGE, verkey(BOB), verkey(ALICE))


def test_anoncrypt_one_recipient() -> None:
    result = unpack(anoncrypt(BOB), my_keys=mine(BOB))
    assert result == Unpacked(MESSAGE, verkey(BOB), None)


@pytest.mark.parametrize("packer", [authcrypt, anoncrypt])
def test_several_recipients_each_open_it(packer) -> None:
    envelope = packer(BOB, CAROL, DAVE)
    for k in (BOB, CAROL, DAVE):
        result = unpack(envelope, my_keys=mine(k))
        assert result.message == MESSAGE
        assert result.recipient_verkey == verkey(k)
        assert result.sender_verkey == (verkey(ALICE) if packer is authcrypt else None)


def test_first_of_my_keys_in_recipient_order_is_used() -> None:
    result = unpack(authcrypt(CAROL, BOB), my_keys=mine(BOB, CAROL))
    assert result.recipient_verkey == verkey(CAROL)


@pytest.mark.parametrize(
    "message", [b"", b"\x00", os.urandom(1), os.urandom(100_000)], ids=["empty", "nul", "one-byte", "100-kB"]
)
def test_any_bytes_round_trip(message: bytes) -> None:
    assert unpack(authcrypt(BOB, message=message), my_keys=mine(BOB)).message == message
    assert unpack(anoncrypt(BOB, message=message), my_keys=mine(BOB)).message == message


def test_each_pack_is_fresh() -> None:
    assert authcrypt(BOB) != authcrypt(BOB)


def test_sender_can_talk_to_itself() -> None:
    envelope = pack(MESSAGE, to_verkeys=[verkey(ALICE)], from_key=ALICE)
    assert unpack(envelope, my_keys=mine(ALICE)).sender_verkey == verkey(ALICE)


# -- format (RFC 0019) -------------------------------------------------------


def test_authcrypt_format() -> None:
    outer, header = parts(authcrypt(BOB, CAROL))
    assert set(outer) == {"protected", "iv", "ciphertext", "tag"}
    assert {k: header[k] for k in ("enc", "typ", "alg")} == {
        "enc": "xchacha20poly1305_ietf",
        "typ": "JWM/1.0",
        "alg": "Authcrypt",
    }
    assert len(unb64(outer["iv"])) == 12  # ChaCha20-Poly1305 IETF, whatever "enc" says (as ACA-Py)
    assert len(unb64(outer["tag"])) == 16
    assert len(unb64(outer["ciphertext"])) == len(MESSAGE)
    assert [r["header"]["kid"] for r in header["recipients"]] == [verkey(BOB), verkey(CAROL)]
    for r in header["recipients"]:
        assert set(r) == {"encrypted_key", "header"}
        assert set(r["header"]) == {"kid", "sender", "iv"}
        assert len(unb64(r["encrypted_key"])) == 48  # crypto_box: 32-byte key + MAC
        assert len(unb64(r["header"]["iv"])) == 24
        assert len(unb64(r["header"]["sender"])) == 48 + len(verkey(ALICE))  # sealed box


def test_anoncrypt_format() -> None:
    _, header = parts(anoncrypt(BOB))
    assert header["alg"] == "Anoncrypt"
    [r] = header["recipients"]
    assert r["header"] == {"kid": verkey(BOB)}
    assert len(unb64(r["encrypted_key"])) == 80  # sealed box: ephemeral key + MAC + 32


def test_sender_field_is_a_sealed_box_of_the_sender_verkey() -> None:
    _, header = parts(authcrypt(BOB))
    sealed = unb64(header["recipients"][0]["header"]["sender"])
    bob_x = BOB.to_x25519()
    opened = nacl.bindings.crypto_box_seal_open(sealed, bob_x.public_key.raw, bob_x.raw)
    assert opened == verkey(ALICE).encode()


def test_padded_base64_from_older_agents_is_accepted() -> None:
    outer, _ = parts(authcrypt(BOB, message=b"x"))
    for name in ("iv", "ciphertext", "tag"):
        outer[name] = base64.urlsafe_b64encode(unb64(outer[name])).decode()
    assert unpack(json.dumps(outer).encode(), my_keys=mine(BOB)).message == b"x"


def test_null_sender_and_iv_mean_anoncrypt() -> None:
    outer, header = parts(anoncrypt(BOB))
    header["recipients"][0]["header"].update(sender=None, iv=None)
    # The protected header is the AEAD's associated data: this is only a parse check.
    with pytest.raises(EnvelopeError, match="does not decrypt"):
        unpack(with_header(outer, header), my_keys=mine(BOB))


# -- rejection ---------------------------------------------------------------


def test_error_type_is_an_ssi_error() -> None:
    assert issubclass(EnvelopeError, SSIError)


def test_wrong_recipient() -> None:
    with pytest.raises(EnvelopeError, match="no recipient key"):
        unpack(authcrypt(BOB, CAROL), my_keys=mine(EVE))
    with pytest.raises(EnvelopeError, match="no recipient key"):
        unpack(anoncrypt(BOB), my_keys={})


def test_wrong_key_under_a_recipient_kid() -> None:
    with pytest.raises(EnvelopeError, match="does not decrypt"):
        unpack(authcrypt(BOB), my_keys={verkey(BOB): EVE})


@pytest.mark.parametrize("field", ["protected", "iv", "ciphertext", "tag"])
@pytest.mark.parametrize("packer", [authcrypt, anoncrypt])
def test_tampered_outer_field(packer, field: str) -> None:
    outer = json.loads(packer(BOB))
    for index in (0, -1):
        tampered = dict(outer, **{field: flip(outer[field], index)})
        with pytest.raises(EnvelopeError):
            unpack(json.dumps(tampered).encode(), my_keys=mine(BOB))


@pytest.mark.parametrize(
    ("packer", "where"),
    [
        (authcrypt, "encrypted_key"),
        (authcrypt, "sender"),
        (authcrypt, "iv"),
        (anoncrypt, "encrypted_key"),
    ],
)
def test_tampered_recipient_field(packer, where: str) -> None:
    """A flipped byte inside the protected header, re-encoded so it parses: the box fails."""
    outer, header = parts(packer(BOB))
    recipient = header["recipients"][0]
    holder = recipient if where == "encrypted_key" else recipient["header"]
    holder[where] = flip(holder[where], 5)
    with pytest.raises(EnvelopeError, match="does not decrypt"):
        unpack(with_header(outer, header), my_keys=mine(BOB))


def test_tampered_kid_is_not_ours() -> None:
    outer, header = parts(authcrypt(BOB))
    header["recipients"][0]["header"]["kid"] = verkey(EVE)
    with pytest.raises(EnvelopeError, match="does not decrypt"):
        unpack(with_header(outer, header), my_keys=mine(EVE))


def test_forged_sender_is_rejected() -> None:
    """Anyone can seal a verkey to Bob; the boxed key still names Alice, so it fails."""
    outer, header = parts(authcrypt(BOB))
    bob_x = BOB.verify_key.to_x25519().raw
    header["recipients"][0]["header"]["sender"] = b64(nacl.bindings.crypto_box_seal(verkey(EVE).encode(), bob_x))
    with pytest.raises(EnvelopeError, match="does not decrypt"):
        unpack(with_header(outer, header), my_keys=mine(BOB))


def test_downgrade_to_anoncrypt_is_rejected() -> None:
    outer, header = parts(authcrypt(BOB))
    header["alg"] = "Anoncrypt"
    with pytest.raises(EnvelopeError, match="must not have sender"):
        unpack(with_header(outer, header), my_keys=mine(BOB))


def test_truncated_envelope() -> None:
    envelope = authcrypt(BOB, CAROL)
    for length in [0, 1, *range(10, len(envelope), 37), len(envelope) - 2, len(envelope) - 1]:
        with pytest.raises(EnvelopeError):
            unpack(envelope[:length], my_keys=mine(BOB))


@pytest.mark.parametrize("size", [0, 1, 16, 100, 1000])
def test_random_bytes(size: int) -> None:
    with pytest.raises(EnvelopeError):
        unpack(os.urandom(size), my_keys=mine(BOB))


@pytest.mark.parametrize(
    "envelope",
    [
        b"",
        b"null",
        b"[]",
        b'"protected"',
        b"{}",
        b"\xff\xfe{",
        b"[" * 100_000,
        b'{"protected":"e30","iv":"","ciphertext":"","tag":""}',
        b'{"protected":1,"iv":"a","ciphertext":"a","tag":"a"}',
    ],
)
def test_bad_json(envelope: bytes) -> None:
    with pytest.raises(EnvelopeError):
        unpack(envelope, my_keys=mine(BOB))


def test_not_bytes() -> None:
    with pytest.raises(EnvelopeError):
        unpack(None, my_keys=mine(BOB))  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["protected", "iv", "ciphertext", "tag"])
@pytest.mark.parametrize("bad", ["!!!!", "a", "ab+/", "ab=c", "abc==", "ab=", 7, None, "é"])
def test_bad_base64(field: str, bad) -> None:
    outer = json.loads(authcrypt(BOB))
    outer[field] = bad
    with pytest.raises(EnvelopeError):
        unpack(json.dumps(outer).encode(), my_keys=mine(BOB))


def test_non_canonical_base64() -> None:
    outer = json.loads(authcrypt(BOB))
    tag = outer["tag"]  # 16 bytes: 22 characters, the last holding 4 spare bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    outer["tag"] = tag[:-1] + alphabet[alphabet.index(tag[-1]) ^ 1]  # a spare bit: same bytes
    assert unb64(outer["tag"]) == unb64(tag)
    with pytest.raises(EnvelopeError):
        unpack(json.dumps(outer).encode(), my_keys=mine(BOB))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("enc", "chacha20poly1305_ietf"),
        ("enc", None),
        ("typ", "JWM/2.0"),
        ("alg", "ECDH-1PU+A256KW"),
        ("alg", None),
        ("recipients", []),
        ("recipients", {}),
        ("recipients", ["x"]),
        ("recipients", [{"encrypted_key": "AAAA"}]),
        ("recipients", [{"encrypted_key": "AAAA", "header": {"kid": ""}}]),
        ("recipients", [{"encrypted_key": "AAAA", "header": {"kid": 5}}]),
    ],
)
def test_bad_protected_header(name: str, value) -> None:
    outer, header = parts(authcrypt(BOB))
    header[name] = value
    with pytest.raises(EnvelopeError):
        unpack(with_header(outer, header), my_keys=mine(BOB))


def test_protected_header_not_json_or_not_object() -> None:
    outer, _ = parts(authcrypt(BOB))
    for payload in (b"{", b"[1]", b"\xff"):
        with pytest.raises(EnvelopeError):
            unpack(json.dumps({**outer, "protected": b64(payload)}).encode(), my_keys=mine(BOB))


def test_duplicate_kid() -> None:
    outer, header = parts(authcrypt(BOB))
    header["recipients"].append(header["recipients"][0])
    with pytest.raises(EnvelopeError, match="duplicate"):
        unpack(with_header(outer, header), my_keys=mine(BOB))


def test_duplicate_json_member() -> None:
    envelope = authcrypt(BOB)
    with pytest.raises(EnvelopeError, match="duplicate"):
        unpack(envelope[:-1] + b',"tag":"AAAAAAAAAAAAAAAAAAAAAA"}', my_keys=mine(BOB))


def test_extra_envelope_member() -> None:
    outer = json.loads(authcrypt(BOB))
    outer["aad"] = "AAAA"
    with pytest.raises(EnvelopeError):
        unpack(json.dumps(outer).encode(), my_keys=mine(BOB))


@pytest.mark.parametrize(
    ("where", "length"),
    [("iv", 24), ("tag", 15), ("recipient iv", 12), ("encrypted_key", 32), ("sender", 3)],
)
def test_wrong_lengths(where: str, length: int) -> None:
    outer, header = parts(authcrypt(BOB))
    value = b64(os.urandom(length))
    if where in ("iv", "tag"):
        outer[where] = value
    elif where == "recipient iv":
        header["recipients"][0]["header"]["iv"] = value
    elif where == "sender":
        header["recipients"][0]["header"]["sender"] = value
    else:
        header["recipients"][0]["encrypted_key"] = value
    with pytest.raises(EnvelopeError):
        unpack(with_header(outer, header), my_keys=mine(BOB))


def test_pack_rejects_bad_arguments() -> None:
    for to in ([], [verkey(BOB), verkey(BOB)], ["not base58 0OIl"], [b58encode(b"short")], verkey(BOB), [5]):
        with pytest.raises(EnvelopeError):
            pack(MESSAGE, to_verkeys=to, from_key=ALICE)  # type: ignore[arg-type]
    with pytest.raises(EnvelopeError):
        pack("text", to_verkeys=[verkey(BOB)], from_key=None)  # type: ignore[arg-type]


# -- fuzz --------------------------------------------------------------------

_AUTH = authcrypt(BOB, CAROL, message=b"fuzz")
_ANON = anoncrypt(BOB, message=b"fuzz")


@st.composite
def mutated(draw) -> tuple[bytes, bytes]:
    original = draw(st.sampled_from([_AUTH, _ANON]))
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["replace", "delete", "insert", "flip"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "replace":
            data[at] = draw(st.integers(0, 255))
        elif kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "delete":
            del data[at]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return original, bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_raise_only_envelope_error(case: tuple[bytes, bytes]) -> None:
    original, data = case
    sender = verkey(ALICE) if original is _AUTH else None
    try:
        result = unpack(data, my_keys=mine(BOB))
    except EnvelopeError:
        return
    # Only a no-op mutation may succeed (e.g. whitespace between JSON tokens).
    assert result == Unpacked(b"fuzz", verkey(BOB), sender)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_envelope_error(data: bytes) -> None:
    with pytest.raises(EnvelopeError):
        unpack(data, my_keys=mine(BOB))


def test_unpack_also_reads_xchacha20_with_a_24_byte_iv_as_rfc_0019_and_indy_agents_write_it():
    outer, header = parts(anoncrypt(BOB))
    x25519 = BOB.to_x25519()
    cek = nacl.bindings.crypto_box_seal_open(
        unb64(header["recipients"][0]["encrypted_key"]), x25519.public_key.raw, x25519.raw
    )
    iv = os.urandom(24)
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(MESSAGE, outer["protected"].encode(), iv, cek)
    outer.update(iv=b64(iv), ciphertext=b64(sealed[:-16]), tag=b64(sealed[-16:]))
    result = unpack(json.dumps(outer).encode(), my_keys={verkey(BOB): BOB})
    assert result.message == MESSAGE and result.sender_verkey is None
    outer["tag"] = flip(outer["tag"])
    with pytest.raises(EnvelopeError):
        unpack(json.dumps(outer).encode(), my_keys={verkey(BOB): BOB})
