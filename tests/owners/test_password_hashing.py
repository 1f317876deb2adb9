"""Passwords are hashed with Argon2id at the parameters of core/hashers.py in production settings, and an old
PBKDF2 hash is upgraded at the next login (issue 14, finding 10: sign-up 1.8-3.0 s, login 1.3-1.9 s with PBKDF2).
The test settings keep the fast MD5 hasher; these tests put the production list back for themselves."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from config import settings as production
from tests.conftest import PASSWORD, make_owner

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_hashers(settings):
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS


def test_test_settings_keep_the_fast_hasher():
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_a_new_password_is_hashed_with_argon2id_at_the_tuned_parameters(production_hashers):
    encoded = make_password(PASSWORD)
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$"), encoded
    assert check_password(PASSWORD, encoded)
    assert not check_password(PASSWORD + "!", encoded)


def test_a_pbkdf2_hash_is_upgraded_to_argon2id_when_its_owner_logs_in(production_hashers, client):
    owner = make_owner("dora")
    owner.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    owner.save(update_fields=["password"])

    response = client.post("/login/", {"username": "dora", "password": PASSWORD})

    assert response.status_code == 302, response.content.decode()[:500]
    owner.refresh_from_db()
    assert identify_hasher(owner.password).algorithm == "argon2"
    assert owner.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert owner.check_password(PASSWORD)


def test_a_wrong_password_leaves_the_old_hash_alone(production_hashers, client):
    owner = make_owner("erin")
    old = make_password(PASSWORD, hasher="pbkdf2_sha256")
    owner.password = old
    owner.save(update_fields=["password"])

    response = client.post("/login/", {"username": "erin", "password": "not the password"})

    assert response.status_code == 200
    owner.refresh_from_db()
    assert owner.password == old
