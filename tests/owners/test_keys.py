"""Owners' keys exist from the account's creation, so the pages that show them only read."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from owners.models import Owner, OwnerKey
from owners.selectors import owner_keys_active
from tests.conftest import client_for, make_owner

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("owners.migrations.0005_keys_for_every_owner")


def test_every_new_account_gets_a_current_and_a_next_key_however_it_was_made():
    made = [
        make_owner("dana"),
        Owner.objects.create_superuser("root", "root@example.org", "x"),
        Owner.objects.create(username="erin"),
    ]
    for owner in made:
        keys = owner_keys_active(owner=owner)
        assert set(keys) == {OwnerKey.Role.CURRENT, OwnerKey.Role.NEXT}
        assert not any(key.self_held for key in keys.values())


def test_saving_an_account_again_makes_no_more_keys(alice):
    alice.first_name = "Alice"
    alice.save()
    assert OwnerKey.objects.filter(owner=alice).count() == 2


def test_the_keys_page_shows_the_keys_made_at_creation(alice):
    current = owner_keys_active(owner=alice)[OwnerKey.Role.CURRENT]
    page = client_for(alice).get(reverse("owner-keys")).content.decode()
    assert current.public_multibase in page
    assert OwnerKey.objects.filter(owner=alice).count() == 2


def test_accounts_made_before_get_their_missing_keys_from_the_migration(alice):
    # bulk_create sends no post_save: an account as the admin made them before keys were made at creation.
    Owner.objects.bulk_create([Owner(username="old", email="old@example.org")])
    old = Owner.objects.get(username="old")
    OwnerKey.objects.filter(owner=alice, role=OwnerKey.Role.NEXT).delete()
    alice_current = owner_keys_active(owner=alice)[OwnerKey.Role.CURRENT]
    backfill.create_missing_keys(apps, None)
    assert set(owner_keys_active(owner=old)) == {OwnerKey.Role.CURRENT, OwnerKey.Role.NEXT}
    alice_keys = owner_keys_active(owner=alice)
    assert alice_keys[OwnerKey.Role.CURRENT] == alice_current and OwnerKey.Role.NEXT in alice_keys
    backfill.create_missing_keys(apps, None)
    assert OwnerKey.objects.count() == 4
