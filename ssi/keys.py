"""Ed25519 and X25519 keys: the only module in ssi that calls PyNaCl.

Every verification failure raises :class:`ssi.errors.SignatureError`; every
malformed key raises :class:`ssi.errors.KeyError_`. Public keys print as
Multikey strings (``z6Mk…`` for Ed25519, ``z6LS…`` for X25519).

Ed25519 → X25519 conversion follows RFC 7748 / libsodium
(``crypto_sign_ed25519_pk_to_curve25519``), as the did:key spec prescribes for
deriving the keyAgreement key of an Ed25519 did:key, and as DIDComm v1 uses to
encrypt to a verkey.
"""

from __future__ import annotations

import functools

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing

from ssi.errors import EncodingError, KeyError_, SignatureError
from ssi.multibase import (
    ED25519_PRIV,
    ED25519_PUB,
    X25519_PUB,
    decode_multikey,
    encode_multikey,
    multibase_decode,
)

SEED_BYTES = 32
_sign_open = nacl.bindings.crypto_sign_open
try:
    # libsodium's crypto_sign_open itself, through the cffi module PyNaCl's bindings are built on. Its wrapper
    # (nacl.bindings.crypto_sign_open) allocates an output buffer and a length and copies the message out of them;
    # libsodium takes NULL for both and then only verifies: a third of the Python time per signature
    # (bench/verify.py). Without the module (another PyNaCl layout) the wrapper is used: the same verdicts.
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib

    _sodium_open = _lib.crypto_sign_open
    _NULL = _ffi.NULL
except (ImportError, AttributeError):  # pragma: no cover - PyNaCl 1.6 has both
    _sodium_open = None


class VerifyKey:
    """An Ed25519 public key."""

    __slots__ = ("_multibase", "_raw")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != 32:
            raise KeyError_("Ed25519 public key must be 32 bytes")
        self._raw = raw
        self._multibase: str | None = None

    @classmethod
    def from_multibase(cls, text: str) -> VerifyKey:
        """Parse a ``z6Mk…`` Multikey (cached: keys repeat across a log)."""
        return _verify_key_from_multibase(text)

    @property
    def raw(self) -> bytes:
        return self._raw

    @property
    def multibase(self) -> str:
        """The Multikey string, ``z6Mk…``."""
        if self._multibase is None:
            self._multibase = encode_multikey(ED25519_PUB, self._raw)
        return self._multibase

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise :class:`SignatureError` unless ``signature`` is valid."""
        if len(signature) != 64:
            raise SignatureError("Ed25519 signature must be 64 bytes")
        # libsodium's crypto_sign_open, as nacl.signing.VerifyKey.verify calls it, without that method's argument
        # checks and encoder (done above) and, where the cffi module is there, without the binding's output buffers
        # (see _sodium_open): on every verification path (bench/verify.py). PyNaCl 1.6 binds no detached verify.
        # The key is 32 bytes (__init__) and the signed message is bytes: what the C function reads.
        signed = bytes(signature) + message  # bytes (the same object for bytes) + any buffer: bytes
        if _sodium_open is not None:
            if _sodium_open(_NULL, _NULL, signed, len(signed), self._raw) != 0:
                raise SignatureError("signature does not verify")
            return
        try:
            _sign_open(signed, self._raw)
        except nacl.exceptions.BadSignatureError:
            raise SignatureError("signature does not verify") from None

    def to_x25519(self) -> X25519PublicKey:
        """The birationally equivalent Curve25519 key (for key agreement)."""
        try:
            return X25519PublicKey(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(self._raw))
        except (nacl.exceptions.RuntimeError, ValueError):
            raise KeyError_("Ed25519 key has no X25519 equivalent") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyKey) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"VerifyKey({self.multibase})"


@functools.lru_cache(maxsize=4096)
def _verify_key_from_multibase(text: str) -> VerifyKey:
    try:
        return VerifyKey(decode_multikey(text, ED25519_PUB))
    except EncodingError as exc:
        raise KeyError_(f"not an Ed25519 Multikey: {exc}") from None


class SigningKey:
    """An Ed25519 private key, held as its 32-byte seed."""

    __slots__ = ("_nacl", "verify_key")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
            raise KeyError_("Ed25519 seed must be 32 bytes")
        self._nacl = nacl.signing.SigningKey(seed)
        self.verify_key = VerifyKey(bytes(self._nacl.verify_key))

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key from the OS CSPRNG (libsodium ``randombytes``)."""
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        return cls(seed)

    @classmethod
    def from_multibase(cls, text: str) -> SigningKey:
        """Parse an ed25519-priv Multikey (``z3u2…``, as in the W3C vectors)."""
        try:
            return cls(decode_multikey(text, ED25519_PRIV))
        except EncodingError as exc:
            raise KeyError_(f"not an Ed25519 private Multikey: {exc}") from None

    @property
    def seed(self) -> bytes:
        return bytes(self._nacl)

    @property
    def multibase(self) -> str:
        """The public key's Multikey string (never the secret)."""
        return self.verify_key.multibase

    def private_multibase(self) -> str:
        return encode_multikey(ED25519_PRIV, self.seed)

    def sign(self, message: bytes) -> bytes:
        """Detached 64-byte Ed25519 signature."""
        return self._nacl.sign(message).signature

    def to_x25519(self) -> X25519PrivateKey:
        """The matching Curve25519 private key (libsodium ``sk_to_curve25519``)."""
        sk64 = self.seed + self.verify_key.raw
        return X25519PrivateKey(nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(sk64))

    def __repr__(self) -> str:
        return f"SigningKey(public={self.multibase})"


class X25519PublicKey:
    """A Curve25519 public key for key agreement."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != 32:
            raise KeyError_("X25519 public key must be 32 bytes")
        self.raw = raw

    @classmethod
    def from_multibase(cls, text: str) -> X25519PublicKey:
        try:
            return cls(decode_multikey(text, X25519_PUB))
        except EncodingError as exc:
            raise KeyError_(f"not an X25519 Multikey: {exc}") from None

    @property
    def multibase(self) -> str:
        """The Multikey string, ``z6LS…``."""
        return encode_multikey(X25519_PUB, self.raw)

    def to_nacl(self) -> nacl.public.PublicKey:
        return nacl.public.PublicKey(self.raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519PublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)


class X25519PrivateKey:
    """A Curve25519 private key for key agreement."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != 32:
            raise KeyError_("X25519 private key must be 32 bytes")
        self.raw = raw

    @classmethod
    def generate(cls) -> X25519PrivateKey:
        return cls(bytes(nacl.public.PrivateKey.generate()))

    @property
    def public_key(self) -> X25519PublicKey:
        return X25519PublicKey(nacl.bindings.crypto_scalarmult_base(self.raw))

    def to_nacl(self) -> nacl.public.PrivateKey:
        return nacl.public.PrivateKey(self.raw)


def verify_signature(public_multibase: str, message: bytes, signature: bytes) -> None:
    """Verify with a Multikey string; raise :class:`SignatureError` on failure.

    A malformed key is reported as a signature failure too: to a verifier
    both mean "this was not signed by that key".
    """
    try:
        key = VerifyKey.from_multibase(public_multibase)
    except KeyError_ as exc:
        raise SignatureError(str(exc)) from None
    key.verify(message, signature)


def decode_signature(text: str) -> bytes:
    """Decode a multibase signature value (``z…`` or ``u…``), 64 bytes."""
    try:
        sig = multibase_decode(text)
    except EncodingError as exc:
        raise SignatureError(f"bad signature encoding: {exc}") from None
    if len(sig) != 64:
        raise SignatureError("Ed25519 signature must be 64 bytes")
    return sig
