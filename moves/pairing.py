"""The pairing code of a move (review finding 13): what ties the owner's confirmation on the old host to the request
THEY made on the new one.

Anyone may ask the old host (A) to move any thing to any host, so the owner may see two "Coffee grinder to T"
requests, hers and a stranger's. Both hosts compute the same short code from what both already hold about one
request, with no change to the protocol: the destination's public move key, the owner update key the destination
named, and the destination's id of the move (``MoveIn.public_id`` on B, ``MoveOut.remote_id`` on A). B's status page
shows it; A's confirmation asks the owner to type it. A stranger's request has another key and another update key,
so another code, and a stranger cannot learn the owner's code (it is on the owner's page on B only).

8 Crockford base32 characters (40 bits), shown as ``ABCD-EFGH``. Typing is forgiving: case, spaces and dashes do not
matter, and O/I/L read as 0/1/1 (Crockford's decoding rules).
"""

from __future__ import annotations

import hashlib
import hmac

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
LENGTH = 8
DOMAIN = b"thingstead move pairing code v1"
_TYPED = str.maketrans({"O": "0", "I": "1", "L": "1"})


def pairing_code(*, move_key: str, owner_update_key: str, request_id: str) -> str:
    """The code for one move request, ``ABCD-EFGH``: the first 40 bits of SHA-256 over the three fields (each on its
    own line, after a domain label), in Crockford base32."""
    text = b"\n".join([DOMAIN, move_key.encode(), owner_update_key.encode(), request_id.encode()])
    number = int.from_bytes(hashlib.sha256(text).digest()[:5], "big")
    chars = "".join(ALPHABET[(number >> shift) & 31] for shift in range(5 * (LENGTH - 1), -1, -5))
    return f"{chars[:4]}-{chars[4:]}"


def normalized(typed: str) -> str:
    """What a person typed, as the code's 8 characters: upper case, without spaces or dashes, O/I/L as 0/1/1."""
    kept = "".join(ch for ch in str(typed).upper() if ch not in " -\t")
    return kept.translate(_TYPED)


def matches(typed: str, code: str) -> bool:
    """Whether ``typed`` is ``code`` (see :func:`normalized`), compared in constant time."""
    return hmac.compare_digest(normalized(typed).encode(), normalized(code).encode())
