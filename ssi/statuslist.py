"""W3C Bitstring Status List v1.0: revocation by one bit per credential.

- §2.1 The issuer keeps a bitstring of at least 131,072 entries (16 KiB: enough
  that a set bit says little about which holder it is). Index 0 is the
  left-most bit of the first byte; the bit for index ``i`` is
  ``byte[i // 8] & (0x80 >> i % 8)``.
- §2.2 ``encodedList`` is the Multibase base64url (``u``, no padding) of the
  GZIP of the bitstring.
- §2.2 The list is published as a ``BitstringStatusListCredential`` whose
  ``credentialSubject`` is ``{id, type: BitstringStatusList, statusPurpose,
  encodedList}``, signed like any credential (:func:`ssi.credentials.issue`).
- §2.1 A credential points at its bit with a ``credentialStatus`` entry of type
  ``BitstringStatusListEntry``: ``statusPurpose``, ``statusListIndex`` (a
  decimal string) and ``statusListCredential`` (the list credential's URL).

This module is the format only; :func:`ssi.credentials.verify_credential`
verifies the list credential's proof and issuer before reading a bit.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from ssi.errors import EncodingError, SSIError
from ssi.multibase import b64url_decode, b64url_encode

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
LIST_TYPE = "BitstringStatusList"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
ENTRY_TYPE = "BitstringStatusListEntry"
MIN_LENGTH = 131_072  # §2.1 minimum bitstring length (entries)
# A decompression bomb guard: 16 MiB of bits (134 million entries) is far beyond any real list.
MAX_BYTES = 16 * 1024 * 1024
PURPOSES = frozenset({"revocation", "suspension", "refresh", "message"})
_INDEX_RE = re.compile(r"^(0|[1-9][0-9]*)$")


class StatusListError(SSIError):
    """A status list or status entry is malformed (bad encoding, too short, index out of range)."""


class Bitstring:
    """A mutable bitstring of ``length`` entries (a multiple of 8, at least :data:`MIN_LENGTH`), all clear."""

    __slots__ = ("_bits",)

    def __init__(self, length: int = MIN_LENGTH) -> None:
        if length < MIN_LENGTH or length % 8:
            raise StatusListError(f"a status list needs at least {MIN_LENGTH} entries, a multiple of 8")
        if length // 8 > MAX_BYTES:
            raise StatusListError("status list too long")
        self._bits = bytearray(length // 8)

    @classmethod
    def from_bytes(cls, data: bytes) -> Bitstring:
        if len(data) * 8 < MIN_LENGTH:
            raise StatusListError(f"the status list holds {len(data) * 8} entries; the minimum is {MIN_LENGTH}")
        if len(data) > MAX_BYTES:
            raise StatusListError("status list too long")
        bits = cls.__new__(cls)
        bits._bits = bytearray(data)
        return bits

    @classmethod
    def decode(cls, encoded: str) -> Bitstring:
        """Parse an ``encodedList`` (``u`` + base64url of GZIP); refuse a list under the minimum length."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise StatusListError("encodedList must be multibase base64url (starting with 'u')")
        try:
            compressed = b64url_decode(encoded[1:])
        except EncodingError as exc:
            raise StatusListError(f"encodedList is not base64url: {exc}") from None
        # wbits=31: GZIP framing only (a bare zlib or deflate stream is not what §2.2 prescribes).
        inflater = zlib.decompressobj(wbits=31)
        try:
            data = inflater.decompress(compressed, MAX_BYTES + 1)
        except zlib.error as exc:
            raise StatusListError(f"encodedList is not GZIP: {exc}") from None
        if len(data) > MAX_BYTES:
            raise StatusListError("status list too long")
        if not inflater.eof or inflater.unused_data:
            raise StatusListError("encodedList is not exactly one GZIP stream")
        return cls.from_bytes(data)

    def encode(self) -> str:
        """The ``encodedList`` value. ``mtime=0`` keeps it a pure function of the bits."""
        return "u" + b64url_encode(gzip.compress(bytes(self._bits), mtime=0))

    def __len__(self) -> int:
        return len(self._bits) * 8

    def _at(self, index: int) -> tuple[int, int]:
        if type(index) is not int or not 0 <= index < len(self._bits) * 8:
            raise StatusListError(f"status list index {index!r} is outside the list (0..{len(self) - 1})")
        return index >> 3, 0x80 >> (index & 7)

    def test(self, index: int) -> bool:
        # _at spelled out: one test per credential verified.
        if type(index) is not int or not 0 <= index < len(self._bits) * 8:
            self._at(index)  # raises its StatusListError
        return bool(self._bits[index >> 3] & (0x80 >> (index & 7)))

    __getitem__ = test

    def set(self, index: int) -> None:
        byte, mask = self._at(index)
        self._bits[byte] |= mask

    def clear(self, index: int) -> None:
        byte, mask = self._at(index)
        self._bits[byte] &= ~mask & 0xFF

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def set_indices(self) -> list[int]:
        """Every index whose bit is set (for tests and admin views)."""
        out = []
        for i, b in enumerate(self._bits):
            if b:
                out.extend(i * 8 + j for j in range(8) if b & (0x80 >> j))
        return out


def _time(t: datetime | str | None) -> str | None:
    if t is None or isinstance(t, str):
        return t
    return t.isoformat().replace("+00:00", "Z")


def list_credential(
    *,
    url: str,
    issuer: str,
    bits: Bitstring,
    purpose: str = "revocation",
    valid_from: datetime | str | None = None,
    valid_until: datetime | str | None = None,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` published at ``url``; sign it with
    :func:`ssi.credentials.issue`."""
    if purpose not in PURPOSES:
        raise StatusListError(f"unknown statusPurpose {purpose!r}")
    cred: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": issuer,
    }
    if valid_from is not None:
        cred["validFrom"] = _time(valid_from)
    if valid_until is not None:
        cred["validUntil"] = _time(valid_until)
    cred["credentialSubject"] = {
        "id": f"{url}#list",
        "type": LIST_TYPE,
        "statusPurpose": purpose,
        "encodedList": bits.encode(),
    }
    return cred


def status_entry(*, url: str, index: int, purpose: str = "revocation") -> dict[str, Any]:
    """The ``credentialStatus`` member pointing at bit ``index`` of the list at ``url``."""
    if type(index) is not int or index < 0:
        raise StatusListError("statusListIndex must be a non-negative integer")
    if purpose not in PURPOSES:
        raise StatusListError(f"unknown statusPurpose {purpose!r}")
    return {
        "id": f"{url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),  # §2.1: a string holding the decimal index
        "statusListCredential": url,
    }


class StatusEntry(NamedTuple):
    """A credential's ``BitstringStatusListEntry``, read. A named tuple rather than a frozen dataclass: one is
    built per credential verified, and a tuple is built in a third of the time (bench/credentials.py)."""

    url: str
    index: int
    purpose: str


def read_entry(entry: Any) -> StatusEntry:
    """Parse a ``BitstringStatusListEntry``; raise :class:`StatusListError` for any other shape."""
    if not (type(entry) is dict or isinstance(entry, Mapping)) or entry.get("type") != ENTRY_TYPE:
        raise StatusListError("credentialStatus is not a BitstringStatusListEntry")
    url, index, purpose = entry.get("statusListCredential"), entry.get("statusListIndex"), entry.get("statusPurpose")
    if not isinstance(url, str) or not url:
        raise StatusListError("statusListCredential must be a URL")
    if not isinstance(index, str) or not _INDEX_RE.match(index) or len(index) > 12:
        raise StatusListError("statusListIndex must be a decimal string")
    if not isinstance(purpose, str):
        raise StatusListError("statusPurpose must be a string")
    if entry.get("statusSize", 1) != 1:
        raise StatusListError("only 1-bit status entries are supported")
    return StatusEntry(url, int(index), purpose)


def read_list(credential: Mapping[str, Any]) -> tuple[Bitstring, str]:
    """The bits and the purpose of a ``BitstringStatusListCredential`` (its proof is not checked here)."""
    types = credential.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or LIST_CREDENTIAL_TYPE not in types:
        raise StatusListError("not a BitstringStatusListCredential")
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or subject.get("type") != LIST_TYPE:
        raise StatusListError("credentialSubject must be a BitstringStatusList")
    purpose = subject.get("statusPurpose")
    if purpose not in PURPOSES:
        raise StatusListError(f"unknown statusPurpose {purpose!r}")
    return Bitstring.decode(subject.get("encodedList")), purpose
