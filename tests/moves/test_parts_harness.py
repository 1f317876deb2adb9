"""The round trip every feature part is held to (issue 18), and what a package must never hold.

``mover`` moves a twin the way the moves app does, in one database: on "A" (``on_a``: A's DID domain and
SITE_URL), the owner signs the move entries for the destination owner's keys (twins.moving.move_entries) and the
real package is built (twins.moving.move_package: every registered part, the twins app's own included); the
originals are deleted (the twin, and whatever owner-level rows the test names: on one database "B" would otherwise
find A's rows); then on "B" (B's domain and SITE_URL) twins.moving.arrive restores it with the real
twins.portability.twin_unpack for the other owner, and optionally activates it (TwinArrived).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.apps import apps

from core import vault
from owners.keys import owner_keys_ensure
from owners.models import OwnerKey
from ssi.vault import VaultError
from twins import moving
from twins.models import Twin

A_DOMAIN, A_URL = "a.example.com", "https://a.example.com"
B_DOMAIN, B_URL = "b.example.com", "https://b.example.com"


@pytest.fixture
def on_a(settings):
    """This instance plays the source, A (use it before the twin is made: its DID names A's domain)."""
    settings.DID_DOMAIN, settings.SITE_URL = A_DOMAIN, A_URL
    return settings


def through_json(value: Any) -> Any:
    """What the destination gets: the package after JSON (it travels encrypted, as JSON text)."""
    return json.loads(json.dumps(value))


def delete_twin(twin: Twin) -> None:
    """The twin and everything hanging on it (credentials first: their status list is PROTECTed from them)."""
    if apps.is_installed("credentials"):
        for name in ("OwnershipCredential", "AccessCredential"):
            apps.get_model("credentials", name).objects.filter(twin_id=twin.pk).delete()
    Twin.objects.filter(pk=twin.pk).delete()


Mover = Callable[..., tuple[dict, Twin]]


@pytest.fixture
def mover(on_a, django_capture_on_commit_callbacks) -> Mover:
    """``mover(twin, to_owner=, delete=None, activate=False, tamper=None) -> (package, twin on B)``; ``tamper``
    changes the package (as it travels) before it arrives."""

    def move(
        twin: Twin,
        *,
        to_owner: Any,
        delete: Callable[[], None] | None = None,
        activate: bool = False,
        tamper: Callable[[dict], None] | None = None,
    ) -> tuple[dict, Twin]:
        keys = owner_keys_ensure(owner=to_owner)
        entries = moving.move_entries(
            twin,
            by=twin.owner,
            new_domain=B_DOMAIN,
            new_update_key=keys[OwnerKey.Role.CURRENT].public_multibase,
            new_next_key_hash=keys[OwnerKey.Role.NEXT].next_key_hash,
            destination_url=B_URL,
        )
        package = through_json(moving.move_package(twin, entries=entries))
        delete_twin(twin)
        if delete is not None:
            delete()
        if tamper is not None:
            tamper(package)
        on_a.DID_DOMAIN, on_a.SITE_URL = B_DOMAIN, B_URL
        try:
            arrived = moving.arrive(package, owner=to_owner, source_url=A_URL, destination_url=B_URL)
            if activate:
                with django_capture_on_commit_callbacks(execute=True):
                    moving.activate(arrived)
        finally:
            on_a.DID_DOMAIN, on_a.SITE_URL = A_DOMAIN, A_URL
        return package, Twin.objects.get(pk=arrived.pk)

    return move


def release(twin: Twin, *, to: Any) -> Twin:
    """On "A": the move entries for ``to``'s keys appended and the twin marked moved to B (twins.moving.release)."""
    keys = owner_keys_ensure(owner=to)
    entries = moving.move_entries(
        twin,
        by=twin.owner,
        new_domain=B_DOMAIN,
        new_update_key=keys[OwnerKey.Role.CURRENT].public_multibase,
        new_next_key_hash=keys[OwnerKey.Role.NEXT].next_key_hash,
        destination_url=B_URL,
    )
    return moving.release(twin, entries=entries, destination_url=B_URL)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def sealed_blobs_in(value: Any) -> list[str]:
    """Every string in ``value`` that this instance's vault opens (a sealed blob of ours): there must be none, the
    destination cannot open them (its KEY_ENCRYPTION_KEY is another)."""
    found = []
    for text in _strings(value):
        if len(text) < 40:  # a sealed blob is a 24-byte nonce, a 16-byte tag and the secret
            continue
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(text + "=" * (-len(text) % 4))
            except (binascii.Error, ValueError):
                continue
            try:
                vault.unseal(raw)
            except (VaultError, ValueError, TypeError):
                continue
            found.append(text)
            break
    return found


def assert_portable(package: dict, part: str) -> None:
    """The part's data is plain JSON and holds no blob sealed under this instance's key."""
    assert part in package["parts"], f"the {part} part is not in the package"
    data = package["parts"][part]
    assert through_json(data) == data
    assert sealed_blobs_in(data) == []


# --- the harness's own checks ------------------------------------------------------------------------------


def test_the_sealed_blob_finder_finds_a_sealed_secret(db):
    sealed = vault.seal(b"whsec_a-secret-that-would-leak")
    package = {"parts": {"x": [{"deep": base64.b64encode(sealed).decode()}]}}
    assert sealed_blobs_in(package) == [base64.b64encode(sealed).decode()]
    assert sealed_blobs_in({"parts": {"x": base64.b64encode(b"not sealed, just long enough text").decode()}}) == []


def test_a_bare_twin_goes_and_comes_back(on_a, mover, alice, bob):
    from twins import services as twin_services

    grinder = twin_services.twin_create(owner=alice, name="Coffee grinder")
    slug = grinder.slug
    package, restored = mover(grinder, to_owner=bob)
    assert restored.slug == slug and restored.owner == bob and restored.arriving
    json.dumps(package)
    assert sealed_blobs_in(package) == []
