"""SECURITY 18: a production deployment refuses NTAG 424 DNA SUN keys that prove nothing (all-zero factory keys,
one repeated byte, keys published in examples). Provisioning never stores one (tags.nfc.sun_provision); these
checks catch any that arrived another way (a restored development database, the admin, raw SQL).

Two places, one rule (tags.nfc.weak_sun_keys, which compares key check values only: no key is unsealed):

- `refuse_weak_sun_keys_at_startup`, called by the production entry points (config/wsgi.py, config/asgi.py)
  once Django is set up: with DEBUG off the application does not start while any is stored, and the message
  names the tags. Management commands do not import those modules, so `migrate`, `check --deploy` and
  `sun_provision --replace` still run and the operator can fix it.
- the deploy check tags.E001 (registered in tags.apps at Error level), so that
  `manage.py check --deploy --database default` fails with one before the servers are started. It reads the
  database only when asked to (`--database`), as Django expects of database checks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection

WEAK_KEYS_ID = "tags.E001"
HINT = (
    "Provision them again on the thing's NFC tags page (or `manage.py sun_provision --replace`) and program the "
    "chips with the new file."
)

logger = logging.getLogger("tags.nfc")


def _weak_tags() -> list[str]:
    from tags.nfc import weak_sun_keys  # models are ready when this runs, not when this module is imported

    return weak_sun_keys()


def _message(codes: list[str]) -> str:
    return (
        f"{len(codes)} NFC tag(s) have all-zero, factory or published example NTAG 424 DNA SDM keys, so their taps "
        f"prove nothing: {', '.join(codes)}."
    )


def weak_sun_keys_check(app_configs: Any = None, databases: Iterable[str] | None = None, **kwargs: Any) -> list:
    if settings.DEBUG or not databases or "default" not in databases:
        return []
    try:
        codes = _weak_tags()
    except DatabaseError:
        return []  # not migrated yet: there are no keys to check
    if not codes:
        return []
    return [checks.Error(_message(codes), hint=HINT, id=WEAK_KEYS_ID)]


class WeakSunKeys(ImproperlyConfigured):
    """The application refuses to start: weak SUN keys are stored (the message names the tags)."""


def refuse_weak_sun_keys_at_startup() -> None:
    """Raise WeakSunKeys when DEBUG is off and any stored SUN key is weak. A database that cannot be read yet (not
    migrated, not reachable, or blocked by a test runner) is logged and let through: the server then starts as it
    would have, and the deploy check still applies."""
    if settings.DEBUG or not apps.is_installed("tags"):
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        # An ASGI server (uvicorn) imports the application inside its event loop, where Django refuses synchronous
        # database access: check in a thread of its own (its connection is opened and closed there).
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(refuse_weak_sun_keys_at_startup).result()
    try:
        codes = _weak_tags()
    except (DatabaseError, RuntimeError) as exc:  # RuntimeError: pytest-django's blocked database
        logger.warning("Could not check the stored NFC tag keys at startup: %s", exc.__class__.__name__)
        return
    finally:
        # Opened while the module is imported, maybe in a server's parent process before it forks its workers
        # (gunicorn --preload): a connection must not be shared with them.
        if not connection.in_atomic_block:
            connection.close()
    if codes:
        raise WeakSunKeys(f"Refusing to start: {_message(codes)} {HINT}")
