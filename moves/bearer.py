"""The bearer token of a move: made by the destination, sent to the source in the request, presented by each side
on every later call to the other (Authorization: Bearer …).

Both sides keep it sealed (core.vault: they need it again to call the other side) and its SHA-256 (to check a
call). :func:`matches` compares digests in constant time, and takes as long for a move that does not exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.http import HttpRequest

from core.vault import seal, unseal

# What a missing move's token is compared against, so "no such move" and "wrong token" take the same time.
_NOTHING = hashlib.sha256(b"thingstead-moves:no such move").hexdigest()


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def sealed(token: str) -> bytes:
    return seal(token.encode())


def opened(token_sealed: bytes | memoryview) -> str:
    return unseal(token_sealed).decode()


def presented(request: HttpRequest) -> str:
    """The token in the request's ``Authorization: Bearer`` header ("" if none)."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def matches(token: str, stored_hash: str | None) -> bool:
    """Whether ``token`` is the one whose hash is ``stored_hash`` (None: no such move; answers False as slowly)."""
    expected = stored_hash if stored_hash else _NOTHING
    return hmac.compare_digest(token_hash(token or ""), expected) and bool(stored_hash) and bool(token)
