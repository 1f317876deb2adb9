"""SECURITY 18: a production deployment refuses NTAG 424 DNA SUN keys that prove nothing (all-zero factory keys,
one repeated byte, keys published in examples). Provisioning never stores one (tags.nfc.sun_provision); this
check catches any that arrived another way (a restored development database, the admin, raw SQL).

Registered in tags.apps as a deploy check at Error level, so `manage.py check --deploy --database default` fails
with one (run it before starting the servers; `migrate` alone does not run deploy checks). It reads the database
only when asked to (`--database`), as Django expects of database checks, and compares key check values only: no
key is unsealed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

WEAK_KEYS_ID = "tags.E001"


def weak_sun_keys_check(app_configs: Any = None, databases: Iterable[str] | None = None, **kwargs: Any) -> list:
    if settings.DEBUG or not databases or "default" not in databases:
        return []
    from tags.nfc import weak_sun_keys  # models are ready when checks run, not when this module is imported

    try:
        count = weak_sun_keys()
    except DatabaseError:
        return []  # not migrated yet: there are no keys to check
    if not count:
        return []
    return [
        checks.Error(
            f"{count} NFC tag(s) have all-zero, factory or published example NTAG 424 DNA SDM keys: their taps prove "
            "nothing.",
            hint="Provision them again on the thing's NFC page (or `manage.py sun_provision --replace`) and program "
            "the chips with the new file.",
            id=WEAK_KEYS_ID,
        )
    ]
