"""NTAG 424 DNA Secure Unique NFC (SUN) messages, as NXP AN12196 ("NTAG 424 DNA and NTAG 424 DNA TagTamper
features and hints") describes them. No Django: the bytes a chip mirrors into its URL, and how to check them.

On every tap the chip writes into the URL it serves (Secure Dynamic Messaging, SDM):

- ``picc_data``: AES-128 (CBC, zero IV; one block) under the SDM meta-read key of
  ``PICCDataTag || UID (7) || SDMReadCtr (3, least significant byte first) || random padding``;
- ``enc`` (optional): file data, AES-128-CBC under a session key derived from the SDM file-read key;
- ``cmac``: the SDMMAC, an AES-CMAC (NIST SP 800-38B) under a session MAC key derived from the SDM file-read key,
  over the URL's bytes from the MAC input offset to the MAC itself, truncated to its 8 odd-indexed bytes.

A URL whose MAC checks out was produced by a chip holding the file-read key; a counter higher than any seen before
means it was not copied from an earlier tap. The counter check needs state and is the caller's (tags.nfc).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

KEY_BYTES = 16
UID_BYTES = 7
PICC_HEX = 32  # one AES block
CMAC_HEX = 16  # 8 bytes
ENC_MAX_HEX = 256  # the chip's SDMENCLength is at most the file; 128 bytes of file data is plenty for a URL
MAX_COUNTER = 0xFFFFFF

# PICCDataTag (AN12196 section 3.4.2): bit 7 UID mirrored, bit 6 SDMReadCtr mirrored, bits 0-3 the UID's length.
_UID_MIRRORED = 0x80
_CTR_MIRRORED = 0x40
# Session vectors (AN12196 section 3.4.4.1, "SV1"/"SV2"): a fixed prefix, then UID and counter; 16 bytes in all.
_SV_ENC = bytes.fromhex("C33C00010080")
_SV_MAC = bytes.fromhex("3CC300010080")
# The URL layout this project provisions (tags.nfc_provision): ``...?picc_data=<32>[&enc=<2n>]&cmac=<16>``. With
# file data the MAC input starts at the first character of ``enc`` and ends just before the MAC, so it is the
# encrypted data's hex as the chip wrote it, then ``&cmac=``; without it, the input is empty (MAC input offset ==
# MAC offset).
_MAC_INPUT_TAIL = b"&cmac="
PARAMS = ("picc_data", "enc", "cmac")
_HEX = frozenset("0123456789abcdefABCDEF")


class SunError(ValueError):
    """A SUN URL that does not verify or cannot be read. The message says what was wrong, for a person; it never
    contains key material."""


@dataclass(frozen=True)
class SunParams:
    """The SUN parameters of a tag URL, syntactically valid (hex of the right lengths)."""

    picc_data: bytes
    cmac: bytes
    enc_hex: str = ""  # as in the URL: the MAC covers these characters, not the bytes they spell


@dataclass(frozen=True)
class PiccData:
    uid: bytes
    counter: int


@dataclass(frozen=True)
class Tap:
    """A verified tap: the chip's UID, its read counter at this tap, and the decrypted file data (b"" if none)."""

    uid: bytes
    counter: int
    file_data: bytes = b""


def _hex(value: str, name: str, *, length: int | None = None, block: int | None = None, most: int = 0) -> bytes:
    if length is not None and len(value) != length:
        raise SunError(f"{name} must be {length} hexadecimal characters, not {len(value)}.")
    if block is not None and (not value or len(value) % block or len(value) > most):
        raise SunError(f"{name} must be a multiple of {block} hexadecimal characters, at most {most}.")
    if not _HEX.issuperset(value):
        raise SunError(f"{name} must be hexadecimal (0-9, A-F).")
    return bytes.fromhex(value)


def has_sun_params(pairs: Iterable[tuple[str, str]]) -> bool:
    return any(name in PARAMS for name, _ in pairs)


def parse_query(query: str) -> SunParams | None:
    """The SUN parameters of a URL's query string; None when it carries none; SunError when it carries some but
    they are malformed (missing, repeated, not hex, wrong length). Other parameters are ignored."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        raise SunError("The link has too many parameters to be a tag's.") from None
    found: dict[str, str] = {}
    for name, value in pairs:
        if name not in PARAMS:
            continue
        if name in found:
            raise SunError(f"{name} appears more than once.")
        found[name] = value
    if not found:
        return None
    for name in ("picc_data", "cmac"):
        if name not in found:
            raise SunError(f"The link has {', '.join(sorted(found))} but no {name}.")
    enc = found.get("enc")
    if enc is not None:
        _hex(enc, "enc", block=32, most=ENC_MAX_HEX)
    return SunParams(
        picc_data=_hex(found["picc_data"], "picc_data", length=PICC_HEX),
        cmac=_hex(found["cmac"], "cmac", length=CMAC_HEX),
        enc_hex=enc or "",
    )


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValueError(f"an AES-128 key is {KEY_BYTES} bytes")


# The AES block function on single blocks, as the chip applies it (PICCData, the file data's IV, the KCV): ECB of
# one block is exactly that, not a mode of encrypting messages.
def _ecb_decrypt(key: bytes, block: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()  # noqa: S305 (one block, see above)
    return decryptor.update(block) + decryptor.finalize()


def _ecb_encrypt(key: bytes, block: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 (one block, see above)
    return encryptor.update(block) + encryptor.finalize()


def _cbc(key: bytes, iv: bytes, data: bytes, *, decrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    worker = cipher.decryptor() if decrypt else cipher.encryptor()
    return worker.update(data) + worker.finalize()


def cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (RFC 4493), 16 bytes."""
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def _counter_bytes(counter: int) -> bytes:
    return counter.to_bytes(3, "little")


def decrypt_picc_data(meta_key: bytes, picc_data: bytes) -> PiccData:
    """AN12196 section 3.4.2.2: the UID and read counter in the encrypted PICCData. Any 16 bytes decrypt to
    something, so a wrong key or a forged block shows only as a PICCDataTag this project never provisions, or
    later as a MAC mismatch."""
    _check_key(meta_key)
    if len(picc_data) != 16:
        raise SunError("picc_data must be 16 bytes.")
    plain = _ecb_decrypt(meta_key, picc_data)  # CBC with a zero IV over one block
    tag = plain[0]
    if tag & _UID_MIRRORED == 0 or tag & _CTR_MIRRORED == 0 or tag & 0x0F != UID_BYTES:
        raise SunError("picc_data does not decrypt to a UID and a read counter with this tag's key.")
    return PiccData(uid=plain[1:8], counter=int.from_bytes(plain[8:11], "little"))


def _session_vector(prefix: bytes, uid: bytes, counter: int) -> bytes:
    if len(uid) != UID_BYTES or not 0 <= counter <= MAX_COUNTER:
        raise ValueError("a UID is 7 bytes and a read counter 0 to 2^24-1")
    return prefix + uid + _counter_bytes(counter)


def session_keys(file_key: bytes, uid: bytes, counter: int) -> tuple[bytes, bytes]:
    """(KSesSDMFileReadENC, KSesSDMFileReadMAC): AN12196 section 3.4.4.1, CMAC of SV1/SV2 under the file-read key."""
    _check_key(file_key)
    return (
        cmac(file_key, _session_vector(_SV_ENC, uid, counter)),
        cmac(file_key, _session_vector(_SV_MAC, uid, counter)),
    )


def truncate_mac(full: bytes) -> bytes:
    """NXP's MACt: the 8 bytes at odd indices (1, 3, ..., 15) of the 16-byte CMAC."""
    return full[1::2]


def sdm_mac(file_key: bytes, uid: bytes, counter: int, mac_input: bytes) -> bytes:
    """The 8-byte SDMMAC a chip computes for this tap over `mac_input`."""
    _, mac_key = session_keys(file_key, uid, counter)
    return truncate_mac(cmac(mac_key, mac_input))


def _file_iv(enc_key: bytes, counter: int) -> bytes:
    # AN12196 section 3.4.3: IVe = E(KSesSDMFileReadENC; SDMReadCtr || 13 zero bytes).
    return _ecb_encrypt(enc_key, _counter_bytes(counter) + bytes(13))


def decrypt_file_data(file_key: bytes, uid: bytes, counter: int, enc: bytes) -> bytes:
    enc_key, _ = session_keys(file_key, uid, counter)
    return _cbc(enc_key, _file_iv(enc_key, counter), enc, decrypt=True)


def _mac_input(params: SunParams) -> bytes:
    return params.enc_hex.encode("ascii") + _MAC_INPUT_TAIL if params.enc_hex else b""


def verify(*, meta_key: bytes, file_key: bytes, params: SunParams) -> Tap:
    """Check one tap's URL against a tag's keys: the UID and counter in `picc_data`, the MAC in constant time, the
    file data in `enc`. Raises SunError if it was not made by a chip holding these keys. Replays are the caller's
    to refuse (the counter)."""
    picc = decrypt_picc_data(meta_key, params.picc_data)
    expected = sdm_mac(file_key, picc.uid, picc.counter, _mac_input(params))
    if not hmac.compare_digest(expected, params.cmac):
        raise SunError("The tag's signature (cmac) does not match: the link was altered or not made by this tag.")
    file_data = b""
    if params.enc_hex:
        file_data = decrypt_file_data(file_key, picc.uid, picc.counter, bytes.fromhex(params.enc_hex))
    return Tap(uid=picc.uid, counter=picc.counter, file_data=file_data)


def encode_tap(
    *, meta_key: bytes, file_key: bytes, uid: bytes, counter: int, file_data: bytes = b"", padding: bytes | None = None
) -> dict[str, str]:
    """The chip's side: the SUN parameters an NTAG 424 DNA with these keys mirrors at this counter (uppercase hex,
    as the chip writes them), in URL order. For tests and for trying the resolver without a chip."""
    _check_key(meta_key)
    if len(file_data) % 16:
        raise ValueError("file data is whole AES blocks")
    padding = secrets.token_bytes(5) if padding is None else padding
    plain = bytes([_UID_MIRRORED | _CTR_MIRRORED | UID_BYTES]) + uid + _counter_bytes(counter) + padding
    params = {"picc_data": _ecb_encrypt(meta_key, plain).hex().upper()}
    if file_data:
        enc_key, _ = session_keys(file_key, uid, counter)
        params["enc"] = _cbc(enc_key, _file_iv(enc_key, counter), file_data, decrypt=False).hex().upper()
    mac_input = params["enc"].encode("ascii") + _MAC_INPUT_TAIL if file_data else b""
    params["cmac"] = sdm_mac(file_key, uid, counter, mac_input).hex().upper()
    return params


# Keys a chip may still carry from the factory or from published examples: the factory keys (all zero), the keys of
# NXP's application notes and of common tutorials. A tag with one of them proves nothing.
_KNOWN_KEYS = frozenset(
    bytes.fromhex(k)
    for k in (
        "000102030405060708090A0B0C0D0E0F",
        "00112233445566778899AABBCCDDEEFF",
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789ABCDEFFEDCBA9876543210",
        "FFEEDDCCBBAA99887766554433221100",
        "2B7E151628AED2A6ABF7158809CF4F3C",  # the AES test key of FIPS 197 / RFC 4493
    )
)


def is_weak_key(key: bytes) -> bool:
    """All-zero (the factory key), one repeated byte, or a key published in examples."""
    return len(set(key)) <= 1 or key in _KNOWN_KEYS


def key_check_value(key: bytes) -> str:
    """The key check value (KCV) of GlobalPlatform for AES: the first 3 bytes of E(key, 16 bytes of 01), as hex.
    Identifies a key (to compare two copies, or against known weak ones) without revealing it."""
    _check_key(key)
    return _ecb_encrypt(key, b"\x01" * 16)[:3].hex().upper()


WEAK_KEY_CHECK_VALUES = frozenset(
    [key_check_value(bytes([b]) * KEY_BYTES) for b in range(256)] + [key_check_value(k) for k in _KNOWN_KEYS]
)


def new_key() -> bytes:
    """A fresh random AES-128 key: never a weak one, nor one whose 3-byte check value is a weak key's (about 1 in
    64,000 random keys: the deploy check, tags.E001, recognises weak keys by that value alone)."""
    while True:
        key = secrets.token_bytes(KEY_BYTES)
        if not is_weak_key(key) and key_check_value(key) not in WEAK_KEY_CHECK_VALUES:
            return key
