"""Per-thing owner keys: one owner's update keys for different things share nothing a reader of the logs can see.

An owner holds two root keys (current and next, owners.keys). The key that a thing's did:webvh log names for
that owner is not the root key itself but a key derived from it and the thing's DID path with HKDF-SHA256
(RFC 5869)::

    seed = HKDF-SHA256(IKM = root Ed25519 seed, salt = "thingstead/thing-key/v1", info = context, L = 32)
    per-thing key = the Ed25519 key with that seed
    context = the DID's path: "twins:<slug>" for did:webvh:<SCID>:<host>:twins:<slug>

so `updateKeys` is the per-thing key derived from the current root and `nextKeyHashes` the hash of the one derived
from the next root. Two things' logs then carry unrelated keys (HKDF is a PRF: without the root seed the derived
keys look random), yet nothing new has to be kept secret: whoever holds the root key file (the platform under its
key-encryption key, or the owner with `python -m ssi.sign thingkey`) derives every per-thing key again.

Why the path and not the SCID: the SCID is the hash of the log's first entry, and that entry must already name the
creator's key for the thing, so a key derived from the SCID cannot be the first update key (it would take an extra
entry by a one-time key in every log). The path is fixed before the inception, unique (a 128-bit random slug), kept
by every move (did:webvh portability keeps the SCID and the path; only the domain changes, twins.moving) and bound
to the SCID by the first entry. Any DID the thing has had gives the same context.
"""

from __future__ import annotations

import hashlib
import hmac

from ssi.errors import SSIError
from ssi.keys import SigningKey

SALT = b"thingstead/thing-key/v1"


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 HKDF with SHA-256: extract, then expand to `length` bytes (at most 255 * 32)."""
    if not 0 < length <= 255 * 32:
        raise ValueError("HKDF-SHA256 output length must be between 1 and 8160 bytes")
    prk = hmac.new(salt or b"\x00" * 32, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def thing_context(did: str) -> str:
    """The derivation context of a thing's did:webvh DID (`did:webvh:<SCID>:<host>:<path...>`): its path, e.g.
    `twins:<slug>`. The SCID may still be the `{SCID}` placeholder (the inception's template)."""
    parts = did.strip().split(":")
    if len(parts) < 5 or parts[:2] != ["did", "webvh"] or not all(parts[2:]):
        raise SSIError(f"not the did:webvh DID of a thing (did:webvh:SCID:host:path): {did[:200]!r}")
    return ":".join(parts[4:])


def derive_key(root: SigningKey, context: str) -> SigningKey:
    """The Ed25519 key derived from `root` for `context` (HKDF-SHA256, SALT)."""
    return SigningKey.from_seed(hkdf_sha256(root.seed, salt=SALT, info=context.encode("utf-8")))


def thing_key(root: SigningKey, did: str) -> SigningKey:
    """The owner's key for one thing, derived from the owner's root key and the thing's DID (its path)."""
    return derive_key(root, thing_context(did))
