"""Secrets at rest: private keys sealed with XSalsa20-Poly1305 (libsodium SecretBox) under a key-encryption key.

Sealed format: one version byte (1), then PyNaCl's nonce || ciphertext || tag. The version byte leaves room to
re-seal under another algorithm or key later without guessing what a blob is.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.secret
import nacl.utils

from ssi.errors import SSIError

VERSION = b"\x01"
KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE


class VaultError(SSIError):
    """A sealed secret could not be opened (wrong key-encryption key, or tampered)."""


def _box(kek: bytes) -> nacl.secret.SecretBox:
    if not isinstance(kek, bytes) or len(kek) != KEY_BYTES:
        raise VaultError(f"the key-encryption key must be {KEY_BYTES} bytes")
    return nacl.secret.SecretBox(kek)


def seal(kek: bytes, secret: bytes) -> bytes:
    """Encrypt and authenticate ``secret`` under ``kek`` with a fresh random nonce."""
    return VERSION + bytes(_box(kek).encrypt(secret))


def unseal(kek: bytes, sealed: bytes) -> bytes:
    """The secret, or :class:`VaultError` if ``sealed`` was not made by :func:`seal` under ``kek``."""
    if not sealed or sealed[:1] != VERSION:
        raise VaultError("unknown sealed-secret format")
    try:
        return _box(kek).decrypt(bytes(sealed[1:]))
    except nacl.exceptions.CryptoError:
        raise VaultError("the sealed secret does not open with this key-encryption key") from None


def new_kek() -> bytes:
    return nacl.utils.random(KEY_BYTES)
