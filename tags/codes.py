"""Tag identifiers: long unguessable tokens for URLs, short Crockford base32 codes for typing."""

from __future__ import annotations

import secrets

# Crockford base32: digits and letters without I, L, O, U (ambiguous with 1, 1, 0 and V, and rude words).
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_CODE_LENGTH = 8
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_token() -> str:
    """32 random bytes (256 bits) as URL-safe base64 without padding: 43 characters."""
    return secrets.token_urlsafe(32)


def new_short_code() -> str:
    """8 Crockford base32 characters: 40 random bits, enough to type, not to guess at scale (rate-limited)."""
    return "".join(secrets.choice(CROCKFORD) for _ in range(SHORT_CODE_LENGTH))


def normalize_short_code(typed: str) -> str | None:
    """Read a code the way Crockford intends: case-insensitive, I/L→1, O→0, hyphens and spaces ignored.

    Returns None when what is left cannot be a code.
    """
    cleaned = typed.strip().upper().replace("-", "").replace(" ", "").translate(_CONFUSABLE)
    if len(cleaned) != SHORT_CODE_LENGTH or any(ch not in CROCKFORD for ch in cleaned):
        return None
    return cleaned


def format_short_code(code: str) -> str:
    """ABCD-EFGH: easier to read aloud and to type."""
    return f"{code[:4]}-{code[4:]}"
