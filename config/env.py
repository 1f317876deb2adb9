"""Small helpers that read settings from the environment and refuse bad values.

Kept free of Django settings state so settings.py stays a flat list of decisions.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0/true/false/yes/no/on/off, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def local_secret(name: str, *, directory: Path, debug: bool, nbytes: int = 32) -> str:
    """Return the secret from the environment, or in development from a git-ignored file.

    In production a missing secret is a configuration error: no silent fallback.
    """
    value = os.environ.get(name)
    if value:
        return value
    if not debug:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name.lower()
    if not path.exists():
        # O_EXCL: two processes starting at once must not write two different secrets.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()


def database_from_url(url: str, *, base_dir: Path) -> dict:
    """Translate a DATABASE_URL (sqlite:///path or postgres://user:pw@host:port/name) into Django's dict."""
    parsed = urlparse(url)
    scheme = parsed.scheme
    if scheme == "sqlite":
        raw = unquote(parsed.path)
        # sqlite:///relative.db -> path "/relative.db"; sqlite:////abs/path.db -> "//abs/path.db"
        path = raw[1:] if raw.startswith("/") else raw
        if not path:
            raise ImproperlyConfigured("DATABASE_URL sqlite:/// needs a file name")
        name = Path(path) if Path(path).is_absolute() else base_dir / path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(name),
            # WAL + IMMEDIATE transactions: concurrent writers queue instead of failing with "database is locked".
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if scheme in {"postgres", "postgresql", "pgsql"}:
        options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        config = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": int(options.pop("conn_max_age", 60)),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
        return config
    raise ImproperlyConfigured(f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:/// or postgres://)")


def key_from_base64(name: str, value: str, *, length: int = 32) -> bytes:
    """Decode a URL-safe base64 key and insist on its length."""
    import base64
    import binascii

    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} must be URL-safe base64") from exc
    if len(raw) != length:
        raise ImproperlyConfigured(f"{name} must decode to {length} bytes, not {len(raw)}")
    if raw == bytes(length):
        raise ImproperlyConfigured(f"{name} must not be all zeros")
    return raw
