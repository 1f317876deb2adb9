"""SECURITY 18: all-zero, factory or published example SDM keys are refused: never stored by provisioning; a
production start (the WSGI/ASGI application, DEBUG off) refuses to load while any is in the database, naming the
tags; and the deploy check (tags.E001) fails with them."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from core import vault
from tags import nfc, sun
from tags.models import SunKeys
from tags.nfc_checks import WEAK_KEYS_ID

pytestmark = pytest.mark.django_db

ZERO = bytes(16)


def _store(tag, meta: bytes, file: bytes) -> SunKeys:
    """Keys that arrived without provisioning (a restored development database, the admin, raw SQL)."""
    return SunKeys.objects.create(
        tag=tag,
        master_key=vault.seal(sun.new_key()),
        meta_read_key=vault.seal(meta),
        file_read_key=vault.seal(file),
        meta_read_kcv=sun.key_check_value(meta),
        file_read_kcv=sun.key_check_value(file),
    )


def _errors(databases=("default",)) -> list:
    found = checks.run_checks(include_deployment_checks=True, databases=list(databases), tags=[checks.Tags.security])
    return [message for message in found if message.id == WEAK_KEYS_ID]


@pytest.mark.parametrize("weak", [ZERO, b"\xff" * 16, bytes(range(16))])
def test_startup_refuses_all_zero_or_default_sdm_keys_in_production(settings, grinder_tag, weak):
    settings.DEBUG = False
    _store(grinder_tag, meta=sun.new_key(), file=weak)
    (error,) = _errors()
    assert error.level == checks.ERROR and "1 NFC tag(s)" in error.msg and "Provision them again" in error.hint
    with pytest.raises(SystemCheckError, match=WEAK_KEYS_ID):
        call_command("check", "--deploy", "--database", "default", "--tag", "security")


def test_random_keys_pass_the_check_and_development_is_not_checked(settings, grinder_tag):
    settings.DEBUG = False
    nfc.sun_provision(tags=[grinder_tag])
    assert _errors() == []
    SunKeys.objects.all().delete()
    _store(grinder_tag, meta=ZERO, file=ZERO)
    settings.DEBUG = True
    assert _errors() == []
    settings.DEBUG = False
    assert _errors(databases=()) == []  # a check without --database reads no database, as Django expects
    assert len(_errors()) == 1


def test_provisioning_never_stores_a_weak_key(grinder_tag, monkeypatch):
    monkeypatch.setattr(sun, "new_key", lambda: ZERO)  # as if the random source failed
    with pytest.raises(ValidationError, match="all-zero, factory or published"):
        nfc.sun_provision(tags=[grinder_tag])
    assert not SunKeys.objects.exists()


def test_replacing_weak_keys_keeps_none_of_them(grinder_tag):
    _store(grinder_tag, meta=ZERO, file=sun.new_key())
    (item,) = nfc.sun_provision(tags=[grinder_tag], replace=True)
    assert item.chip_keys.meta_read_key == ZERO  # the programming tool still authenticates with them
    keys = SunKeys.objects.get(tag=grinder_tag)
    assert keys.previous_meta_read_key is None and not keys.replacement_pending
    assert nfc.weak_sun_keys() == []


# A production start: the application a server imports (config.wsgi, config.asgi), in a process of its own with
# production settings (DEBUG off) and a SQLite database of its own.

ROOT = Path(__file__).resolve().parents[2]
STORE_WEAK_KEY = """
from core import vault
from tags import sun
from tags.models import SunKeys
from tags.services import tag_batch_create
(tag,) = tag_batch_create(count=1, batch="old-stock")
SunKeys.objects.create(tag=tag, master_key=vault.seal(bytes(16)), meta_read_key=vault.seal(bytes(16)),
    file_read_key=vault.seal(bytes(16)), meta_read_kcv=sun.key_check_value(bytes(16)),
    file_read_kcv=sun.key_check_value(bytes(16)))
print("CODE", tag.display_code)
"""


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "REDIS_URL"}}
    env.update(
        DEBUG="0",
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY=base64.urlsafe_b64encode(os.urandom(40)).decode(),
        KEY_ENCRYPTION_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
        SITE_URL="https://things.example.org",
        ALLOWED_HOSTS="things.example.org",
        STATIC_MANIFEST="0",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
    )
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


START = "import config.wsgi, config.asgi; print('STARTED')"
# As uvicorn loads the ASGI application: inside its running event loop, where Django refuses synchronous queries.
IN_LOOP = "import asyncio\nasync def main():\n    import config.asgi\n    print('STARTED')\nasyncio.run(main())"


@pytest.mark.own_databases
@pytest.mark.slow
def test_startup_refuses_all_zero_or_default_sdm_keys_in_production_settings(tmp_path, tmp_path_factory):
    """SECURITY 18, as a server starts: the WSGI and ASGI applications do not load while a weak key is stored, and
    say which tags; `migrate`, `check --deploy` and `sun_provision --replace` still run, so the operator can fix it,
    and then the application starts. The database starts as the migrated schema the instance tests share (migrating
    from nothing in a subprocess was most of this test's time); `migrate` itself still runs below, with the weak
    key stored."""
    from tests.interop.instances import migrated_database

    env = _production_env(tmp_path)
    shutil.copyfile(migrated_database(tmp_path_factory.getbasetemp()), tmp_path / "production.sqlite3")
    assert _run(env, "manage.py", "migrate", "-v0").returncode == 0  # nothing left to apply: a quick no-op
    started = _run(env, "-c", START)
    assert started.returncode == 0 and "STARTED" in started.stdout, started.stderr  # no weak key: it starts
    in_loop = _run(env, "-c", IN_LOOP)
    assert in_loop.returncode == 0 and "STARTED" in in_loop.stdout, in_loop.stderr
    stored = _run(env, "manage.py", "shell", "-c", STORE_WEAK_KEY)
    code = next(line.split()[1] for line in stored.stdout.splitlines() if line.startswith("CODE "))
    for module in ("config.wsgi", "config.asgi"):
        refused = _run(env, "-c", f"import {module}; print('STARTED')")
        assert refused.returncode != 0 and "STARTED" not in refused.stdout
        assert "WeakSunKeys: Refusing to start" in refused.stderr and code in refused.stderr
        assert "sun_provision --replace" in refused.stderr
    refused = _run(env, "-c", IN_LOOP)
    assert refused.returncode != 0 and "STARTED" not in refused.stdout
    assert "WeakSunKeys: Refusing to start" in refused.stderr and code in refused.stderr
    assert _run(env, "manage.py", "migrate", "-v0").returncode == 0
    check = _run(env, "manage.py", "check", "--deploy", "--database", "default")
    assert check.returncode != 0 and WEAK_KEYS_ID in check.stderr and code in check.stderr
    fixed = _run(
        env, "manage.py", "sun_provision", "--batch", "old-stock", "--replace", "--output", str(tmp_path / "k.json")
    )
    assert fixed.returncode == 0, fixed.stderr
    started = _run(env, "-c", START)
    assert started.returncode == 0 and "STARTED" in started.stdout, started.stderr
