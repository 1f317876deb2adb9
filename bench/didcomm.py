"""Benchmark: DIDComm v1 pack+unpack (RFC 0019, Authcrypt) of 1 KB basic messages.

Run from the repo root: ``python bench/didcomm.py [--messages N] [--rounds R] [--repeat K]``.

Times, best of K, pack then unpack of the same N distinct 1 KB basic messages
(R times over), one recipient, Authcrypt:

- ``ssi.envelope`` (this repo: PyNaCl);
- ACA-Py's own envelope code, ``acapy_agent.askar.didcomm.v1.pack_message`` /
  ``unpack_message`` (askar, with the recipient key in an in-memory askar store
  as ACA-Py's wallet holds it), run in ACA-Py's virtualenv
  (``scripts/acapy-env``) and timed inside that process;
- the libsodium floor: only the bare PyNaCl calls an Authcrypt round trip needs
  (random key and nonces, ``crypto_box``, ``crypto_box_seal`` of the sender,
  ChaCha20-Poly1305 IETF encrypt; ``crypto_box_seal_open``, ``crypto_box_open``,
  decrypt), keys converted to X25519 beforehand, no JSON or base64.

Prints messages/s and the ratios; target: ssi ≥ 1.0x ACA-Py.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nacl.bindings as sodium
import nacl.utils

from ssi.envelope import pack, unpack
from ssi.keys import SigningKey
from ssi.multibase import b58encode

ACAPY_ENV = ROOT / "scripts" / "acapy-env"
ACAPY_DRIVER = ROOT / "tests" / "interop" / "acapy_envelope.py"
ALICE_SEED = bytes([1]) * 32
BOB_SEED = bytes([2]) * 32
TARGET = 1.0


def basic_messages(n: int, size: int = 1024) -> list[bytes]:
    """N distinct RFC 0095 basic messages of exactly ``size`` bytes."""
    out = []
    for i in range(n):
        msg = {
            "@type": "https://didcomm.org/basicmessage/1.0/message",
            "@id": str(uuid.UUID(int=i)),
            "sent_time": "2026-01-01T00:00:00.000000Z",
            "content": "",
        }
        pad = size - len(json.dumps(msg).encode())
        msg["content"] = (f"reading {i}: " + "x" * size)[:pad]
        data = json.dumps(msg).encode()
        assert len(data) == size
        out.append(data)
    return out


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def ssi_round_trips(messages: list[bytes], rounds: int):
    alice, bob = SigningKey.from_seed(ALICE_SEED), SigningKey.from_seed(BOB_SEED)
    to = [b58encode(bob.verify_key.raw)]
    mine = {to[0]: bob}

    def run() -> None:
        for _ in range(rounds):
            for message in messages:
                assert unpack(pack(message, to_verkeys=to, from_key=alice), my_keys=mine).message == message

    return run


def floor_round_trips(messages: list[bytes], rounds: int):
    alice, bob = SigningKey.from_seed(ALICE_SEED), SigningKey.from_seed(BOB_SEED)
    a_sk, b_sk = alice.to_x25519().raw, bob.to_x25519().raw
    a_pk, b_pk = alice.verify_key.to_x25519().raw, bob.verify_key.to_x25519().raw
    sender_vk = b58encode(alice.verify_key.raw).encode()
    aad = b"x" * 600  # about the size of a one-recipient protected header

    def run() -> None:
        for _ in range(rounds):
            for message in messages:
                cek = nacl.utils.random(32)
                box_nonce, iv = nacl.utils.random(24), nacl.utils.random(12)
                enc_key = sodium.crypto_box(cek, box_nonce, b_pk, a_sk)
                enc_sender = sodium.crypto_box_seal(sender_vk, b_pk)
                sealed = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(message, aad, iv, cek)
                sodium.crypto_box_seal_open(enc_sender, b_pk, b_sk)
                key = sodium.crypto_box_open(enc_key, box_nonce, a_pk, b_sk)
                assert sodium.crypto_aead_chacha20poly1305_ietf_decrypt(sealed, aad, iv, key) == message

    return run


def acapy_seconds(messages: list[bytes], rounds: int, repeat: int) -> float:
    python = subprocess.run([str(ACAPY_ENV)], capture_output=True, text=True, check=True).stdout.split()[-1]
    op = {
        "op": "bench",
        "messages": [base64.b64encode(m).decode() for m in messages],
        "from_seed": ALICE_SEED.hex(),
        "to_seed": BOB_SEED.hex(),
        "rounds": rounds,
    }
    done = subprocess.run(
        [python, str(ACAPY_DRIVER)], input=json.dumps({"ops": [op] * repeat}), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"ACA-Py driver failed:\n{done.stderr[-3000:]}")
    return min(r["seconds"] for r in json.loads(done.stdout)["results"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    messages = basic_messages(args.messages)
    n = args.messages * args.rounds

    ours = best(ssi_round_trips(messages, args.rounds), args.repeat)
    floor = best(floor_round_trips(messages, args.rounds), args.repeat)
    acapy = acapy_seconds(messages, args.rounds, args.repeat)

    print(f"DIDComm v1 Authcrypt pack+unpack, 1 KB basic messages, {n} per run, best of {args.repeat}")
    print(f"{'what':<34}{'msgs/s':>10}{'us/msg':>9}")
    for name, seconds in (
        ("ssi.envelope (PyNaCl)", ours),
        ("ACA-Py 1.x askar didcomm v1", acapy),
        ("libsodium floor (bare calls)", floor),
    ):
        print(f"{name:<34}{n / seconds:>10,.0f}{seconds / n * 1e6:>9.1f}")
    ratio = acapy / ours
    print(
        f"ssi vs ACA-Py: {ratio:.2f}x ACA-Py's throughput (target >= {TARGET:.1f}x) "
        f"{'OK' if ratio >= TARGET else 'MISSED'}"
    )
    print(f"ssi vs floor: {ours / floor:.2f}x the floor's time; ACA-Py: {acapy / floor:.2f}x")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
