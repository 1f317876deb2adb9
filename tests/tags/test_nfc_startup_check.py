"""SECURITY 18: all-zero, factory or published example SDM keys are refused: never stored by provisioning, and a
production deployment's deploy check (tags.E001) fails while any is in the database."""

from __future__ import annotations

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
