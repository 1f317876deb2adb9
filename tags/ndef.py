"""NDEF (NFC Data Exchange Format, NFC Forum) bytes for a tag's URL, built by `ndeflib`. No Django.

- :func:`uri_message`: the NDEF message of one URI record (NFC Forum URI RTD: "https://" abbreviated to one
  byte), what an NFC writer app writes onto any NFC Forum chip, and what the `.ndef` download holds.
- :func:`type4_file`: the NDEF file of a Type 4 tag such as the NTAG 424 DNA (its file 02): the message after a
  2-byte big-endian length (NFC Forum Type 4 Tag specification, "NLEN").
- :func:`offset_after`: where a mirrored value starts in that file: the chip's SDM offsets count from the file's
  first byte.
"""

from __future__ import annotations

import ndef

TYPE4_FILE_BYTES = 256  # the NTAG 424 DNA's NDEF file (file 02)


class NdefError(ValueError):
    """The URL does not fit a chip's NDEF file, or the message is not what it should be."""


def uri_message(url: str) -> bytes:
    return b"".join(ndef.message_encoder([ndef.UriRecord(url)]))


def message_uri(message: bytes) -> str:
    """The URL of a one-URI-record message (raises NdefError otherwise): what a phone opens on a tap."""
    try:
        records = list(ndef.message_decoder(message))
    except ndef.DecodeError as exc:
        raise NdefError(f"not an NDEF message: {exc}") from None
    if len(records) != 1 or not isinstance(records[0], ndef.UriRecord):
        raise NdefError("not a message of one URI record")
    return records[0].iri


def type4_file(message: bytes, *, size: int = TYPE4_FILE_BYTES) -> bytes:
    if len(message) + 2 > size:
        raise NdefError(f"the NDEF message is {len(message)} bytes; the chip's file holds {size - 2}")
    return len(message).to_bytes(2, "big") + message


def offset_after(file: bytes, marker: str) -> int:
    """The offset of the first byte after `marker` (ASCII) in the file: where the chip mirrors the value that
    follows it. The marker must occur exactly once."""
    needle = marker.encode("ascii")
    at = file.find(needle)
    if at < 0 or file.find(needle, at + 1) >= 0:
        raise NdefError(f"{marker!r} must occur exactly once in the NDEF file")
    return at + len(needle)
