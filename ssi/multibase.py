"""base58btc, multibase, multicodec and multihash: the few pieces we need.

- base58btc uses the Bitcoin alphabet; leading zero bytes map to leading ``1``.
- multibase (draft-multiformats-multibase): a one-character prefix names the
  base. We emit ``z`` (base58btc) and ``u`` (base64url, no padding) and accept
  only those two.
- multicodec: an unsigned varint prefix naming the content. ed25519-pub is
  0xed → ``ed 01`` (so keys read ``z6Mk…``), x25519-pub 0xec → ``ec 01``
  (``z6LS…``), ed25519-priv 0x1300 → ``80 26``, json 0x0200 → ``80 04``.
- multihash: ``<code varint><length varint><digest>``; sha2-256 is ``12 20``.
"""

from __future__ import annotations

import base64
import hashlib
from math import sumprod

from ssi.errors import EncodingError

try:
    # Optional accelerator (requirements.txt): GMP reads a base-58 numeral in C, a quarter of the ten-digit loop
    # below for a 64-byte signature (bench/verify.py, bench/credentials.py). Without it the loop gives the same bytes.
    from gmpy2 import mpz as _mpz
except ImportError:  # pragma: no cover - the pure path is tested by switching ACCELERATED off
    _mpz = None

ACCELERATED = _mpz is not None
"""Whether :func:`b58encode` and :func:`b58decode` work the number with gmpy2 (tests switch it off to hold the pure
path equal)."""

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
# Encode and decode in 10-digit chunks: 58**10 < 2**63, so Python does a tenth of the
# big-integer divisions (multiplications) a digit-by-digit loop would.
_CHUNK = 10
_BIG = 58**_CHUNK

ED25519_PUB = b"\xed\x01"
X25519_PUB = b"\xec\x01"
ED25519_PRIV = b"\x80\x26"
JSON_CODEC = b"\x80\x04"
SHA2_256 = b"\x12\x20"


def b58encode(data: bytes) -> str:
    """Encode bytes as base58btc (no multibase prefix)."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    if ACCELERATED:
        # GMP's base-58 digits are 0-9, A-Z, a-v: mapped onto base58btc's alphabet in order (see b58decode).
        return "1" * zeros + (_mpz(n).digits(58).translate(_FROM_GMP) if n else "")
    out: list[str] = []
    while n >= _BIG:
        n, chunk = divmod(n, _BIG)
        for _ in range(_CHUNK):
            chunk, r = divmod(chunk, 58)
            out.append(ALPHABET[r])
    while n:
        n, r = divmod(n, 58)
        out.append(ALPHABET[r])
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Decode base58btc; raise :class:`EncodingError` on a foreign character."""
    if not isinstance(text, str):
        raise EncodingError("base58 input must be a string")
    # On the verification hot path (every proofValue).
    raw = text.encode("utf-8", "surrogatepass")
    stripped = raw.lstrip(b"1")
    if ACCELERATED and stripped:
        # GMP's digits for bases 37-62 are 0-9, A-Z, a-z: base58btc's alphabet maps onto its first 58 in order, and
        # every other byte onto "z" (61 to GMP, no digit of base 58), so the alphabet check is GMP's own: no sign,
        # space, underscore or prefix it might skip or read reaches it (the first digit is never "0": leading "1"s
        # are stripped), one translate instead of two (bench/verify.py: two base58 strings per did:webvh entry).
        # The mpz writes its own bytes (gmpy2 2.2+): no conversion to a Python int first.
        try:
            n = _mpz(stripped.translate(_TO_GMP), 58)
        except ValueError:
            raise EncodingError(f"invalid base58 character {_first_foreign(text)!r}") from None
        return b"\0" * (len(raw) - len(stripped)) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    # Without GMP the alphabet check and the digit lookup are two bytes.translate calls in C; math.sumprod then
    # reads ten digits at a time in C (58**10 < 2**63, its exact machine-integer path), leaving one big-integer
    # multiply-add per ten digits to Python instead of one per digit (bench/credentials.py).
    if raw.translate(None, _ALPHABET_BYTES):
        raise EncodingError(f"invalid base58 character {_first_foreign(text)!r}")
    digits = stripped.translate(_DIGITS)
    if len(digits) % _CHUNK:
        digits = bytes(_CHUNK - len(digits) % _CHUNK) + digits  # leading zero digits: the same number
    n = 0
    for i in range(0, len(digits), _CHUNK):
        n = n * _BIG + sumprod(digits[i : i + _CHUNK], _CHUNK_WEIGHTS)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(raw) - len(stripped)) + body


_ALPHABET_BYTES = ALPHABET.encode("ascii")
_DIGITS = bytes.maketrans(_ALPHABET_BYTES, bytes(range(58)))
_GMP_DIGITS = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
# base58btc's alphabet onto GMP's first 58 digits, every other byte onto "z" (GMP's 61: never a base-58 digit).
_TO_GMP = bytes(_GMP_DIGITS[_ALPHABET_BYTES.index(i)] if i in _ALPHABET_BYTES else ord("z") for i in range(256))
_FROM_GMP = str.maketrans(_GMP_DIGITS.decode("ascii"), ALPHABET)
_CHUNK_WEIGHTS = tuple(58**i for i in reversed(range(_CHUNK)))


def b58_spells(text: str, data: bytes) -> bool:
    """Whether ``b58decode(text) == data`` (False for a text with a foreign character, where b58decode raises).

    base58btc is a bijection between its strings and byte strings, so this compares ``text`` with the encoding of
    ``data`` instead of decoding it: with GMP, ``data``'s digits against ``text`` mapped onto GMP's digits by one
    bytes.translate (a foreign character onto "z", never a digit), two thirds of a decode's time (bench/verify.py:
    one entry hash per did:webvh entry)."""
    if not ACCELERATED or not isinstance(text, str) or not text.isascii():
        try:
            return b58decode(text) == data
        except EncodingError:
            return False
    body = data.lstrip(b"\0")
    digits = _mpz.from_bytes(body, "big").digits(58).encode() if body else b""
    return text.encode().translate(_TO_GMP) == b"0" * (len(data) - len(body)) + digits


def _first_foreign(text: str) -> str:
    return next(c for c in text if c not in _INDEX)


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 4648 §5, as JOSE and multibase ``u`` use it)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, padded_ok: bool = False) -> bytes:
    """Decode unpadded base64url strictly.

    Only the canonical spelling is accepted: base64 leaves spare bits in the
    last character, and a decoder that ignored them would let two different
    strings stand for one signature or hash (a flipped character that still
    verifies). With ``padded_ok`` (DIDComm: some agents pad) correct ``=``
    padding is also accepted, and only where padding belongs.
    """
    if not isinstance(text, str):
        raise EncodingError("base64url input must be a string")
    if padded_ok:
        stripped = text.rstrip("=")
        if stripped != text and (len(text) % 4 or len(text) - len(stripped) != -len(stripped) % 4):
            raise EncodingError("bad base64url padding")
        text = stripped
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise EncodingError("invalid base64url character") from None
    if raw.translate(None, _B64_ALPHABET) or len(raw) % 4 == 1:
        raise EncodingError("invalid base64url")
    data = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=") != raw:
        raise EncodingError("non-canonical base64url")
    return data


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def multibase_encode(data: bytes, base: str = "z") -> str:
    """Multibase-encode bytes as base58btc (``z``) or base64url (``u``)."""
    if base == "z":
        return "z" + b58encode(data)
    if base == "u":
        return "u" + b64url_encode(data)
    raise EncodingError(f"unsupported multibase prefix {base!r}")


def multibase_decode(text: str) -> bytes:
    """Decode a ``z`` or ``u`` multibase string."""
    if not isinstance(text, str) or not text:
        raise EncodingError("empty multibase value")
    if text[0] == "z":
        return b58decode(text[1:])
    if text[0] == "u":
        return b64url_decode(text[1:])
    raise EncodingError(f"unsupported multibase prefix {text[0]!r}")


def multicodec_wrap(codec: bytes, data: bytes) -> bytes:
    """Prefix raw bytes with a multicodec varint (given as its encoded bytes)."""
    return codec + data


def multicodec_unwrap(data: bytes, codec: bytes) -> bytes:
    """Strip an expected multicodec prefix; raise if it is a different codec."""
    if not data.startswith(codec):
        raise EncodingError(f"expected multicodec {codec.hex()}, got {data[:2].hex()}")
    return data[len(codec) :]


def encode_multikey(codec: bytes, raw: bytes) -> str:
    """Multikey string: multibase base58btc of multicodec-prefixed key bytes."""
    return "z" + b58encode(codec + raw)


def decode_multikey(text: str, codec: bytes, length: int = 32) -> bytes:
    """Decode a Multikey string of the given codec into raw key bytes."""
    if not isinstance(text, str) or not text.startswith("z"):
        raise EncodingError("multikey must be base58btc multibase (z…)")
    raw = multicodec_unwrap(b58decode(text[1:]), codec)
    if len(raw) != length:
        raise EncodingError(f"key must be {length} bytes, got {len(raw)}")
    return raw


def sha256_multihash(data: bytes) -> bytes:
    """Multihash sha2-256 of ``data``: ``12 20`` + 32-byte digest."""
    return SHA2_256 + hashlib.sha256(data).digest()


def sha256_multihash_b58(data: bytes) -> str:
    """base58btc (no multibase prefix) of the sha2-256 multihash.

    This is did:webvh's hash format for the SCID, entry hashes and
    nextKeyHashes (did:webvh 1.0 §"SCID Generation and Verification").
    """
    return b58encode(SHA2_256 + hashlib.sha256(data).digest())
