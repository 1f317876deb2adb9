"""One exception family for the whole library.

Callers catch :class:`SSIError` (or one of its subclasses) and never a PyNaCl,
JSON or canonicalization exception: every lower-level failure is translated at the
boundary where it happens, with a message a person can act on.
"""

from __future__ import annotations


class SSIError(ValueError):
    """Base class: something failed to parse, verify or validate."""


class EncodingError(SSIError):
    """Bad base58, multibase, multicodec or multihash input."""


class KeyError_(SSIError):
    """A key has the wrong type or length."""


class SignatureError(SSIError):
    """An Ed25519 signature did not verify."""


class ProofError(SSIError):
    """A Data Integrity proof is malformed, uses a forbidden suite, or fails."""


class DIDError(SSIError):
    """A DID or DID URL is malformed or cannot be resolved."""


class LogError(SSIError):
    """A did:webvh log failed verification.

    ``version`` is the 1-based number of the first bad entry (its position in
    the log, which for a valid log is also its versionNumber).
    """

    def __init__(self, version: int, reason: str) -> None:
        super().__init__(f"entry {version}: {reason}")
        self.version = version
        self.reason = reason


class HistoryError(SSIError):
    """A twin history chain failed verification.

    ``seq`` is the 1-based position of the first bad entry in the list given.
    """

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"entry {seq}: {reason}")
        self.seq = seq
        self.reason = reason
