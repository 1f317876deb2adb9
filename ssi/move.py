"""The envelope of a twin moving to another instance (issue 18): the package sealed to the destination's key.

A package (twins.portability) carries the twin's private keys unsealed, so it only ever travels encrypted to a
key of the destination instance. The destination makes a fresh X25519 key pair for each move (:func:`new_keys`)
and sends the public half with its request; the source seals the package to it with a libsodium sealed box
(:func:`seal`: an ephemeral X25519 key, XSalsa20-Poly1305, the same construction as RFC 0019's anoncrypt), which
only the holder of the private half can open (:func:`unseal`). The source learns nothing it could decrypt later.

What is sealed is the package's RFC 8785 canonical JSON (:func:`canonical`), zlib-compressed (readings and logs
shrink several times, so a larger thing fits the destination's request limit; nothing an outsider chooses is
mixed into it, and it is sent once, so compression leaks nothing worth having). Both sides name the same plaintext
by the same SHA-256 of the canonical JSON (:func:`digest`): the destination reports it when it tells the source
that the twin arrived, and the source checks it is the package it sent. Opening refuses a package that would
inflate beyond ``max_bytes`` (a compression bomb) before it has inflated that far, and one with more JSON values
than ``max_elements`` (counted from its separators, before parsing: a few megabytes of ``[],[],…`` would be tens
of millions of Python objects) or nested deeper than the parser's recursion limit.

Pure Python and PyNaCl, like the rest of ssi: no Django, nothing logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.public

from ssi import jcs
from ssi.errors import SSIError

KEY_BYTES = nacl.public.PublicKey.SIZE  # 32: an X25519 key, public or private
# A sealed box adds an ephemeral public key and a Poly1305 tag (48 bytes) to the plaintext.
OVERHEAD = nacl.bindings.crypto_box_SEALBYTES
# The largest package (canonical JSON) :func:`unseal` inflates by default.
MAX_PLAINTEXT = 512 * 1024 * 1024
# The most JSON values (an upper bound: see :func:`value_bound`) :func:`unseal` parses by default.
MAX_ELEMENTS = 8_000_000


class MoveError(SSIError):
    """A move key or sealed package is unusable; ``str(exc)`` says why (never anything of the plaintext)."""


@dataclass(frozen=True)
class MoveKeys:
    """An X25519 key pair for one move: ``private`` stays on the destination (sealed at rest), ``public`` goes to
    the source."""

    private: bytes
    public: bytes

    def __repr__(self) -> str:  # never print the private half
        return f"MoveKeys(public={public_key_text(self.public)!r})"


@dataclass(frozen=True)
class Sealed:
    """A sealed package and the SHA-256 (hex) of the canonical plaintext inside it."""

    ciphertext: bytes
    sha256: str

    def __repr__(self) -> str:
        return f"Sealed({len(self.ciphertext)} bytes, sha256={self.sha256})"


def new_keys() -> MoveKeys:
    """A fresh random X25519 key pair."""
    private = nacl.public.PrivateKey.generate()
    return MoveKeys(private=bytes(private), public=bytes(private.public_key))


def public_key_text(public: bytes) -> str:
    """The public key as it travels in a move request: standard base64 of its 32 bytes."""
    return base64.b64encode(public).decode("ascii")


def public_key_from_text(text: Any) -> bytes:
    """The 32 bytes of a public key sent as :func:`public_key_text` writes it; :class:`MoveError` otherwise."""
    if not isinstance(text, str):
        raise MoveError("the move key must be base64 text")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MoveError("the move key is not base64") from None
    if len(raw) != KEY_BYTES:
        raise MoveError(f"the move key must be {KEY_BYTES} bytes (an X25519 public key), not {len(raw)}")
    if raw == bytes(KEY_BYTES):
        raise MoveError("the move key is all zeros")
    return raw


def canonical(package: Mapping[str, Any]) -> bytes:
    """The RFC 8785 canonical JSON of ``package``: what is sealed, and what :func:`digest` names."""
    if not isinstance(package, Mapping):
        raise MoveError("a package is a JSON object")
    return jcs.canonicalize(dict(package))


def digest(plaintext: bytes) -> str:
    """SHA-256 of ``plaintext``, lowercase hex."""
    return hashlib.sha256(plaintext).hexdigest()


def seal(package: Mapping[str, Any], public_key: bytes) -> Sealed:
    """Seal ``package`` (its canonical JSON) to ``public_key``; the plaintext exists only in this call's memory."""
    if not isinstance(public_key, bytes) or len(public_key) != KEY_BYTES:
        raise MoveError(f"the move key must be {KEY_BYTES} bytes")
    plaintext = canonical(package)
    try:
        ciphertext = nacl.public.SealedBox(nacl.public.PublicKey(public_key)).encrypt(zlib.compress(plaintext, 6))
    except nacl.exceptions.CryptoError as exc:
        raise MoveError(f"cannot seal to this key: {exc}") from None
    return Sealed(ciphertext=bytes(ciphertext), sha256=digest(plaintext))


def value_bound(text: bytes) -> int:
    """An upper bound on how many JSON values (object keys included) ``text`` holds, without parsing it: every
    value but the root follows a ``[``, ``{``, ``,`` or ``:``. Separators inside strings only raise the bound."""
    return 1 + sum(text.count(c) for c in (b"[", b"{", b",", b":"))


def unseal(
    ciphertext: bytes, private_key: bytes, *, max_bytes: int = MAX_PLAINTEXT, max_elements: int = MAX_ELEMENTS
) -> tuple[dict[str, Any], str]:
    """Open a package sealed to the public half of ``private_key``: (the package, SHA-256 of its plaintext).

    Raises :class:`MoveError` if it was sealed to another key, was changed on the way, would inflate beyond
    ``max_bytes``, holds more than ``max_elements`` JSON values (:func:`value_bound`, checked before parsing),
    nests deeper than the parser's recursion limit, or is not a JSON object.
    """
    if not isinstance(private_key, bytes) or len(private_key) != KEY_BYTES:
        raise MoveError(f"the move key must be {KEY_BYTES} bytes")
    if not isinstance(ciphertext, bytes | bytearray | memoryview) or len(ciphertext) <= OVERHEAD:
        raise MoveError("the sealed package is too short to be one")
    try:
        compressed = nacl.public.SealedBox(nacl.public.PrivateKey(private_key)).decrypt(bytes(ciphertext))
    except nacl.exceptions.CryptoError:
        raise MoveError("the package does not open with this move's key (sealed to another key, or changed)") from None
    inflater = zlib.decompressobj()
    try:
        plaintext = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error:
        raise MoveError("the sealed package is not compressed as a package is") from None
    if len(plaintext) > max_bytes or inflater.unconsumed_tail:
        raise MoveError(f"the package is larger than {max_bytes} bytes once opened")
    if not inflater.eof:
        raise MoveError("the sealed package is cut short")
    if value_bound(plaintext) > max_elements:
        raise MoveError(f"the package holds more than {max_elements} JSON values")
    try:
        package = json.loads(plaintext)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MoveError("the sealed package is not JSON") from None
    if not isinstance(package, dict):
        raise MoveError("the sealed package is not a JSON object")
    return package, digest(plaintext)
