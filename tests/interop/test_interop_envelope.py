"""RFC 0019 envelopes: ssi and ACA-Py's own envelope code open each other's.

ACA-Py side: ``acapy_agent.askar.didcomm.v1.pack_message``/``unpack_message``
(acapy-agent in its own virtualenv, see conftest). All ACA-Py work runs in one
subprocess per module, so these tests stay fast once the virtualenv exists.
"""

from __future__ import annotations

import base64
import json

import pytest

from ssi.envelope import EnvelopeError, pack, unpack
from ssi.keys import SigningKey
from ssi.multibase import b58encode

from .conftest import b64

SEEDS = {name: bytes([n]) * 32 for n, name in enumerate(["alice", "bob", "carol", "dave"], start=1)}
KEYS = {name: SigningKey.from_seed(seed) for name, seed in SEEDS.items()}
VK = {name: b58encode(key.verify_key.raw) for name, key in KEYS.items()}
MESSAGE = json.dumps(
    {
        "@type": "https://didcomm.org/basicmessage/1.0/message",
        "@id": "0b5b2d7e-6f5a-4c43-9a0e-0f4f1f0d0c11",
        "sent_time": "2025-01-01T00:00:00Z",
        "content": "héllo from Thingstead ✓",
    },
    ensure_ascii=False,
).encode()
BINARY = bytes(range(256)) * 4


def seed(name: str) -> str:
    return SEEDS[name].hex()


def mine(*names: str) -> dict[str, SigningKey]:
    return {VK[n]: KEYS[n] for n in names}


@pytest.fixture(scope="module")
def exchange(acapy_envelope) -> dict:
    """Envelopes packed by ssi and opened by ACA-Py, and packed by ACA-Py (one ACA-Py process)."""
    auth = pack(MESSAGE, to_verkeys=[VK["bob"], VK["carol"], VK["dave"]], from_key=KEYS["alice"])
    anon = pack(BINARY, to_verkeys=[VK["bob"], VK["carol"]], from_key=None)
    outer = json.loads(auth)
    tag = bytearray(base64.urlsafe_b64decode(outer["tag"] + "=="))
    tag[0] ^= 1
    tampered = json.dumps({**outer, "tag": base64.urlsafe_b64encode(bytes(tag)).rstrip(b"=").decode()})
    ops = [
        *({"op": "unpack", "envelope": auth.decode(), "seeds": [seed(n)]} for n in ("bob", "carol", "dave")),
        {"op": "unpack", "envelope": anon.decode(), "seeds": [seed("carol")]},
        {"op": "unpack", "envelope": tampered, "seeds": [seed("bob")]},
        {"op": "pack", "message": b64(MESSAGE), "to": [VK["bob"], VK["carol"]], "from_seed": seed("alice")},
        {"op": "pack", "message": b64(BINARY), "to": [VK["carol"], VK["dave"]], "from_seed": None},
    ]
    results = acapy_envelope(ops)
    return {
        "acapy_opened_auth": results[0:3],
        "acapy_opened_anon": results[3],
        "acapy_opened_tampered": results[4],
        "acapy_auth": results[5]["envelope"].encode(),
        "acapy_anon": results[6]["envelope"].encode(),
    }


def test_acapy_unpacks_ssi_authcrypt_for_every_recipient(exchange: dict) -> None:
    for name, result in zip(("bob", "carol", "dave"), exchange["acapy_opened_auth"], strict=True):
        assert "error" not in result, result
        assert base64.b64decode(result["message"]) == MESSAGE
        assert result["recipient"] == VK[name]
        assert result["sender"] == VK["alice"]


def test_acapy_unpacks_ssi_anoncrypt(exchange: dict) -> None:
    result = exchange["acapy_opened_anon"]
    assert "error" not in result, result
    assert base64.b64decode(result["message"]) == BINARY
    assert result["recipient"] == VK["carol"]
    assert result["sender"] is None


def test_acapy_rejects_a_tampered_ssi_envelope(exchange: dict) -> None:
    assert "error" in exchange["acapy_opened_tampered"]


def test_ssi_unpacks_acapy_authcrypt(exchange: dict) -> None:
    envelope = exchange["acapy_auth"]
    header = json.loads(base64.urlsafe_b64decode(json.loads(envelope)["protected"] + "=="))
    assert (header["enc"], header["typ"], header["alg"]) == ("xchacha20poly1305_ietf", "JWM/1.0", "Authcrypt")
    for name in ("bob", "carol"):
        result = unpack(envelope, my_keys=mine(name))
        assert (result.message, result.recipient_verkey, result.sender_verkey) == (MESSAGE, VK[name], VK["alice"])
    with pytest.raises(EnvelopeError):
        unpack(envelope, my_keys=mine("dave"))


def test_ssi_unpacks_acapy_anoncrypt(exchange: dict) -> None:
    for name in ("carol", "dave"):
        result = unpack(exchange["acapy_anon"], my_keys=mine(name))
        assert (result.message, result.recipient_verkey, result.sender_verkey) == (BINARY, VK[name], None)
