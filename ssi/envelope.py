"""DIDComm v1 encryption envelope (Aries RFC 0019): ``pack`` and ``unpack``.

An envelope is a JSON object with four base64url members::

    {"protected": B64(header), "iv": B64(12-byte nonce),
     "ciphertext": B64(...), "tag": B64(16-byte Poly1305 tag)}

where ``header`` is ``{"enc": "xchacha20poly1305_ietf", "typ": "JWM/1.0",
"alg": "Authcrypt" | "Anoncrypt", "recipients": [...]}``. The message is
encrypted once with a random 32-byte content key and the ``protected`` string
itself as associated data, and the content key is wrapped once per recipient:

- Authcrypt: ``encrypted_key`` = libsodium ``crypto_box`` of the key from the
  sender's X25519 key to the recipient's, with a random nonce ``iv``;
  ``sender`` = a sealed box (to the recipient) of the sender's base58 verkey.
- Anoncrypt: ``encrypted_key`` = ``crypto_box_seal`` of the key; no
  ``sender`` or ``iv``.

Keys are named as DIDComm v1 names them: base58 Ed25519 verkeys (``kid``),
converted to X25519 for the boxes (:mod:`ssi.keys`). Every failure to unpack
-- malformed JSON or base64, wrong algorithm, wrong lengths, a key that is
not ours, any altered byte -- raises :class:`EnvelopeError`, and nothing else.

Despite its ``enc`` label, DIDComm v1 content encryption on the wire is
ChaCha20-Poly1305 IETF with a 12-byte nonce (libsodium
``crypto_aead_chacha20poly1305_ietf``), not XChaCha20 with a 24-byte one:
ACA-Py (askar ``KeyAlg.C20P``) packs that way and rejects a 24-byte ``iv``
("Invalid encryption nonce"). We write what ACA-Py reads; the interop tests pin
it. We read both: a 24-byte ``iv`` (XChaCha20-Poly1305, as RFC 0019 and the
older indy-sdk agents write it) is decrypted as such.

This module and :mod:`ssi.keys` are the only ones in ssi that call PyNaCl.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import nacl.bindings
import nacl.exceptions
import nacl.utils

from ssi.errors import SSIError
from ssi.keys import SigningKey
from ssi.multibase import b58decode, b58encode, b64url_decode, b64url_encode

MEDIA_TYPE = "application/didcomm-envelope-enc"
ENC = "xchacha20poly1305_ietf"
TYP = "JWM/1.0"
AUTHCRYPT = "Authcrypt"
ANONCRYPT = "Anoncrypt"

CEK_BYTES = nacl.bindings.crypto_aead_chacha20poly1305_ietf_KEYBYTES  # 32
IV_BYTES = nacl.bindings.crypto_aead_chacha20poly1305_ietf_NPUBBYTES  # 12
XIV_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
TAG_BYTES = nacl.bindings.crypto_aead_chacha20poly1305_ietf_ABYTES  # 16
BOX_NONCE_BYTES = nacl.bindings.crypto_box_NONCEBYTES  # 24
_BOXED_CEK_BYTES = CEK_BYTES + nacl.bindings.crypto_box_ZEROBYTES - nacl.bindings.crypto_box_BOXZEROBYTES  # 48
_SEALED_CEK_BYTES = CEK_BYTES + nacl.bindings.crypto_box_SEALBYTES  # 80

_ENVELOPE_MEMBERS = frozenset({"protected", "iv", "ciphertext", "tag"})
_RECIPIENT_HEADER_MEMBERS = frozenset({"kid", "sender", "iv"})


class EnvelopeError(SSIError):
    """An envelope could not be packed or unpacked (the one error :func:`unpack` raises)."""


class Unpacked(NamedTuple):
    """The result of :func:`unpack`."""

    message: bytes
    recipient_verkey: str
    """Our base58 verkey the envelope was opened with."""
    sender_verkey: str | None
    """The sender's base58 verkey (Authcrypt), or ``None`` (Anoncrypt)."""


# -- keys -------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _x25519_public(verkey: str) -> bytes:
    """X25519 public key of a base58 Ed25519 verkey (cached: public data, and costly)."""
    try:
        raw = b58decode(verkey)
    except SSIError:
        raise EnvelopeError("verkey is not base58") from None
    if len(raw) != 32:
        raise EnvelopeError("verkey must be 32 bytes")
    try:
        return nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(raw)
    except (nacl.exceptions.CryptoError, ValueError):
        raise EnvelopeError("verkey has no X25519 equivalent") from None


def _verkey(key: SigningKey) -> str:
    return b58encode(key.verify_key.raw)


# -- pack -------------------------------------------------------------------


def pack(message: bytes, *, to_verkeys: Sequence[str], from_key: SigningKey | None) -> bytes:
    """Encrypt ``message`` for every verkey in ``to_verkeys``.

    With ``from_key`` the envelope is Authcrypt (recipients learn and can trust
    the sender's verkey); without it, Anoncrypt. Returns the envelope as UTF-8
    JSON bytes, to be sent with media type :data:`MEDIA_TYPE`.
    """
    if not isinstance(message, bytes | bytearray | memoryview):
        raise EnvelopeError("message must be bytes")
    if isinstance(to_verkeys, str) or not to_verkeys:
        raise EnvelopeError("to_verkeys must be a non-empty list of base58 verkeys")
    if len(set(to_verkeys)) != len(to_verkeys):
        raise EnvelopeError("duplicate recipient verkey")
    cek = nacl.utils.random(CEK_BYTES)
    recipients: list[dict[str, Any]] = []
    if from_key is not None:
        sender_vk = _verkey(from_key).encode("ascii")
        sender_sk = from_key.to_x25519().raw
        for kid in to_verkeys:
            if not isinstance(kid, str):
                raise EnvelopeError("verkey must be a string")
            pk = _x25519_public(kid)
            nonce = nacl.utils.random(BOX_NONCE_BYTES)
            recipients.append(
                {
                    "encrypted_key": b64url_encode(nacl.bindings.crypto_box(cek, nonce, pk, sender_sk)),
                    "header": {
                        "kid": kid,
                        "sender": b64url_encode(nacl.bindings.crypto_box_seal(sender_vk, pk)),
                        "iv": b64url_encode(nonce),
                    },
                }
            )
        alg = AUTHCRYPT
    else:
        for kid in to_verkeys:
            if not isinstance(kid, str):
                raise EnvelopeError("verkey must be a string")
            pk = _x25519_public(kid)
            recipients.append(
                {"encrypted_key": b64url_encode(nacl.bindings.crypto_box_seal(cek, pk)), "header": {"kid": kid}}
            )
        alg = ANONCRYPT
    header = {"enc": ENC, "typ": TYP, "alg": alg, "recipients": recipients}
    protected = b64url_encode(json.dumps(header, separators=(",", ":")).encode("ascii"))
    iv = nacl.utils.random(IV_BYTES)
    sealed = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(bytes(message), protected.encode("ascii"), iv, cek)
    # Every value is base64url: no JSON escaping is needed.
    return (
        f'{{"protected":"{protected}","iv":"{b64url_encode(iv)}",'
        f'"ciphertext":"{b64url_encode(sealed[:-TAG_BYTES])}","tag":"{b64url_encode(sealed[-TAG_BYTES:])}"}}'
    ).encode("ascii")


# -- unpack -----------------------------------------------------------------


def _b64(value: object, what: str) -> bytes:
    """Decode base64url, canonical, padded or not (older agents pad)."""
    if not isinstance(value, str):
        raise EnvelopeError(f"{what} must be a base64url string")
    try:
        return b64url_decode(value, padded_ok=True)
    except SSIError as exc:
        raise EnvelopeError(f"{what}: {exc}") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise EnvelopeError("duplicate JSON member")
    return obj


def _json_object(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data, object_pairs_hook=_no_duplicates)
    except EnvelopeError:
        raise
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise EnvelopeError(f"{what} is not JSON") from None
    if not isinstance(obj, dict):
        raise EnvelopeError(f"{what} must be a JSON object")
    return obj


def _str(obj: Mapping[str, Any], name: str, what: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise EnvelopeError(f"{what}: {name!r} must be a non-empty string")
    return value


def unpack(envelope: bytes, *, my_keys: Mapping[str, SigningKey]) -> Unpacked:
    """Open an RFC 0019 envelope with one of ``my_keys`` (base58 verkey → key).

    Raises :class:`EnvelopeError` for every failure.
    """
    if not isinstance(envelope, bytes | bytearray | memoryview | str):
        raise EnvelopeError("envelope must be bytes")
    outer = _json_object(bytes(envelope) if not isinstance(envelope, str) else envelope, "envelope")
    if outer.keys() != _ENVELOPE_MEMBERS:
        raise EnvelopeError("envelope must have exactly protected, iv, ciphertext and tag")
    protected = _str(outer, "protected", "envelope")
    iv = _b64(outer["iv"], "iv")
    ciphertext = _b64(outer["ciphertext"], "ciphertext")
    tag = _b64(outer["tag"], "tag")
    # A 12-byte iv is ChaCha20-Poly1305 IETF (what ACA-Py/askar send); a 24-byte one is XChaCha20-Poly1305 IETF,
    # as RFC 0019 and the older indy-sdk agents write it. Both are read; we write the former (see above).
    if len(iv) not in (IV_BYTES, XIV_BYTES):
        raise EnvelopeError(f"iv must be {IV_BYTES} or {XIV_BYTES} bytes")
    if len(tag) != TAG_BYTES:
        raise EnvelopeError(f"tag must be {TAG_BYTES} bytes")

    header = _json_object(_b64(protected, "protected"), "protected header")
    if header.get("enc") != ENC:
        raise EnvelopeError(f"unsupported enc {header.get('enc')!r}; expected {ENC!r}")
    if header.get("typ") != TYP:
        raise EnvelopeError(f"unsupported typ {header.get('typ')!r}; expected {TYP!r}")
    alg = header.get("alg")
    if alg not in (AUTHCRYPT, ANONCRYPT):
        raise EnvelopeError(f"unsupported alg {alg!r}; expected Authcrypt or Anoncrypt")
    recipients = header.get("recipients")
    if not isinstance(recipients, list) or not recipients:
        raise EnvelopeError("recipients must be a non-empty list")

    mine: tuple[str, dict[str, Any], dict[str, Any]] | None = None
    seen: set[str] = set()
    for recipient in recipients:
        if not isinstance(recipient, dict):
            raise EnvelopeError("each recipient must be an object")
        rheader = recipient.get("header")
        if not isinstance(rheader, dict):
            raise EnvelopeError("recipient header must be an object")
        kid = _str(rheader, "kid", "recipient header")
        if kid in seen:
            raise EnvelopeError("duplicate recipient kid")
        seen.add(kid)
        if rheader.keys() - _RECIPIENT_HEADER_MEMBERS:
            raise EnvelopeError("recipient header may hold only kid, sender and iv")
        # Some agents write "sender": null, "iv": null for Anoncrypt: null is absent.
        authenticated = (rheader.get("sender") is not None, rheader.get("iv") is not None)
        if authenticated != ((True, True) if alg == AUTHCRYPT else (False, False)):
            raise EnvelopeError(f"{alg} recipient header must {'' if alg == AUTHCRYPT else 'not '}have sender and iv")
        if mine is None and kid in my_keys:
            mine = (kid, recipient, rheader)
    if mine is None:
        raise EnvelopeError("no recipient key of ours in the envelope")
    kid, recipient, rheader = mine

    key = my_keys[kid]
    if not isinstance(key, SigningKey):
        raise EnvelopeError("my_keys values must be SigningKeys")
    my_pk = _x25519_public(kid)
    my_sk = key.to_x25519().raw
    encrypted_key = _b64(recipient.get("encrypted_key"), "encrypted_key")
    sender_verkey: str | None = None
    try:
        if alg == AUTHCRYPT:
            box_nonce = _b64(rheader["iv"], "recipient iv")
            if len(box_nonce) != BOX_NONCE_BYTES:
                raise EnvelopeError(f"recipient iv must be {BOX_NONCE_BYTES} bytes")
            if len(encrypted_key) != _BOXED_CEK_BYTES:
                raise EnvelopeError(f"Authcrypt encrypted_key must be {_BOXED_CEK_BYTES} bytes")
            sealed_sender = _b64(rheader["sender"], "sender")
            try:
                sender_verkey = nacl.bindings.crypto_box_seal_open(sealed_sender, my_pk, my_sk).decode("ascii")
            except UnicodeDecodeError:
                raise EnvelopeError("sender is not a base58 verkey") from None
            cek = nacl.bindings.crypto_box_open(encrypted_key, box_nonce, _x25519_public(sender_verkey), my_sk)
        else:
            if len(encrypted_key) != _SEALED_CEK_BYTES:
                raise EnvelopeError(f"Anoncrypt encrypted_key must be {_SEALED_CEK_BYTES} bytes")
            cek = nacl.bindings.crypto_box_seal_open(encrypted_key, my_pk, my_sk)
        if len(cek) != CEK_BYTES:
            raise EnvelopeError(f"content key must be {CEK_BYTES} bytes")
        decrypt = (
            nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt
            if len(iv) == IV_BYTES
            else nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt
        )
        message = decrypt(ciphertext + tag, protected.encode("ascii"), iv, cek)
    except (nacl.exceptions.CryptoError, nacl.exceptions.TypeError, nacl.exceptions.ValueError):
        raise EnvelopeError("envelope does not decrypt (altered, or not for this key)") from None
    return Unpacked(message, kid, sender_verkey)
