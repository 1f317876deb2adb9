"""Driver run with ACA-Py's own interpreter (.cache/acapy/venv), never imported by pytest.

It packs and unpacks DIDComm v1 envelopes with ACA-Py's envelope code
(``acapy_agent.askar.didcomm.v1``: askar keys, askar's libsodium-compatible
``crypto_box``), with the recipient keys in an in-memory askar store the way
ACA-Py's askar wallet holds them (named by base58 verkey).

stdin: ``{"ops": [op, ...]}``; stdout: ``{"results": [result, ...]}``. Ops:

- ``{"op": "pack", "message": b64, "to": [verkey], "from_seed": hex | null}``
  → ``{"envelope": str}``
- ``{"op": "unpack", "envelope": str, "seeds": [hex]}``
  → ``{"message": b64, "recipient": verkey, "sender": verkey | null}`` or ``{"error": str}``
- ``{"op": "bench", "messages": [b64], "to_seed": hex, "from_seed": hex, "rounds": n}``:
  pack (Authcrypt) then unpack every message ``rounds`` times, timed here
  → ``{"count": n, "seconds": float}``
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time

from acapy_agent.askar.didcomm.v1 import pack_message, unpack_message
from acapy_agent.wallet.util import bytes_to_b58
from aries_askar import Key, KeyAlg, Store


def ed25519(seed_hex: str) -> Key:
    return Key.from_secret_bytes(KeyAlg.ED25519, bytes.fromhex(seed_hex))


def verkey(key: Key) -> str:
    return bytes_to_b58(key.get_public_bytes())


async def store_with(seeds: list[str]) -> Store:
    store = await Store.provision("sqlite://:memory:", "raw", Store.generate_raw_key(), recreate=True)
    async with store.session() as session:
        for seed in seeds:
            key = ed25519(seed)
            await session.insert_key(verkey(key), key)
    return store


async def run(op: dict) -> dict:
    if op["op"] == "pack":
        sender = ed25519(op["from_seed"]) if op.get("from_seed") else None
        envelope = pack_message(op["to"], sender, base64.b64decode(op["message"]))
        return {"envelope": envelope.decode()}
    if op["op"] == "unpack":
        store = await store_with(op["seeds"])
        try:
            async with store.session() as session:
                message, recipient, sender = await unpack_message(session, op["envelope"].encode())
        except Exception as exc:  # reported to the test, which decides
            return {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            await store.close()
        return {"message": base64.b64encode(message).decode(), "recipient": recipient, "sender": sender}
    if op["op"] == "bench":
        messages = [base64.b64decode(m) for m in op["messages"]]
        sender, recipient = ed25519(op["from_seed"]), ed25519(op["to_seed"])
        to = [verkey(recipient)]
        store = await store_with([op["to_seed"]])
        count = 0
        async with store.session() as session:
            start = time.perf_counter()
            for _ in range(op["rounds"]):
                for message in messages:
                    opened, _, _ = await unpack_message(session, pack_message(to, sender, message))
                    assert opened == message
                    count += 1
            seconds = time.perf_counter() - start
        await store.close()
        return {"count": count, "seconds": seconds}
    raise ValueError(f"unknown op {op['op']!r}")


async def main() -> None:
    ops = json.load(sys.stdin)["ops"]
    results = [await run(op) for op in ops]
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
