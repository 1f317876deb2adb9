"""The one key vault: secrets and private keys sealed at rest under KEY_ENCRYPTION_KEY (ssi.vault does the crypto).

Everything the platform keeps secret goes through here: owners' platform-held keys, twins' agent keys, DIDComm
pairwise keys, webhook secrets. One place decides which key-encryption key seals them.
"""

from __future__ import annotations

from django.conf import settings

from ssi import vault
from ssi.keys import SigningKey


def seal(secret: bytes) -> bytes:
    return vault.seal(settings.KEY_ENCRYPTION_KEY, secret)


def unseal(sealed: bytes | memoryview) -> bytes:
    """Raises ssi.vault.VaultError if `sealed` was not sealed under this KEY_ENCRYPTION_KEY (or was tampered)."""
    return vault.unseal(settings.KEY_ENCRYPTION_KEY, bytes(sealed))


def seal_key(key: SigningKey) -> bytes:
    return seal(key.seed)


def unseal_key(sealed: bytes | memoryview) -> SigningKey:
    return SigningKey.from_seed(unseal(sealed))
