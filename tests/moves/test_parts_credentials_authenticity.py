"""Authenticity credentials in a move from a hostile source (issue 18's security review): one is restored only when
its signed document verifies against the maker's DID as this instance knows it, is about the arriving thing (its
SCID) and holds a bit of the maker's list here that no other credential holds. A forged or borrowed one is dropped:
the thing arrives without it, and no shop's policy is fooled."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import json
import uuid

import pytest

from credentials.authenticity import authenticity_revoke, standing_for
from credentials.models import AuthenticityCredential
from makers.authenticity import issuer_of
from makers.claims import claim
from makers.production import produce
from tests.makers.conftest import acme, acme_model, dora, erin  # noqa: F401 (fixtures)
from tests.moves.test_parts_harness import A_URL, B_URL, mover, on_a  # noqa: F401 (fixtures)
from twins import services as twin_services

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.needs("credentials", "makers", "tags"),
    pytest.mark.usefixtures("on_a"),
]


@pytest.fixture
def made(acme_model, alice, on_a):
    """G-1 (claimed by alice, to move) and G-2 (still Acme's), each with Acme's authenticity credential. Acme's
    status list is served by the destination (the maker is there: one database plays both hosts), the things'
    DIDs name the source."""
    on_a.SITE_URL = B_URL
    try:
        ((g1, code), (g2, _)) = produce(model=acme_model, serials=["G-1", "G-2"], by=None)
    finally:
        on_a.SITE_URL = A_URL
    claim(twin=g1.twin, buyer=alice, code=code)
    g1.twin.refresh_from_db()
    return g1.twin, g2.twin


def _item(document: dict, *, issuer: str, index: int) -> dict:
    """An authenticity entry as the credentials part writes one, with a fresh id and a free index."""
    return {
        "id": str(uuid.uuid4()),
        "issuer_did": issuer,
        "model": "Grindmaster",
        "serial": "G-1",
        "status_list": document["credentialStatus"]["statusListCredential"].rsplit("/", 1)[-1],
        "status_index": index,
        "document": json.dumps(document),
        "issued_at": "2026-01-01T00:00:00+00:00",
        "revoked_at": None,
        "revoked_reason": "",
    }


def test_a_genuine_statement_comes_with_its_thing(mover, made, acme, bob):
    g1, _ = made
    _, moved = mover(g1, to_owner=bob)
    (row,) = AuthenticityCredential.objects.filter(twin=moved)
    assert (row.issuer_did, row.serial, row.revoked_at) == (acme.did, "G-1", None)
    assert standing_for(moved.did, [acme.did]) == row


@pytest.mark.parametrize("forgery", ["resigned_for_this_thing", "borrowed_from_another_thing"])
def test_a_forged_or_borrowed_statement_is_dropped(mover, made, acme, carol, bob, forgery):
    _, g2 = made
    genuine = json.loads(AuthenticityCredential.objects.get(twin=g2).document)
    counterfeit = twin_services.twin_create(owner=carol, name="Counterfeit grinder")
    document = json.loads(json.dumps(genuine))
    if forgery == "resigned_for_this_thing":
        document["credentialSubject"]["id"] = counterfeit.did  # its proof no longer holds
        document["credentialSubject"]["serial"] = "G-1"

    def add_statement(package: dict) -> None:
        part = package["parts"].get("credentials") or {"status_list": None, "revoke": [], "authenticity": []}
        part["authenticity"].append(_item(document, issuer=acme.did, index=999))
        package["parts"]["credentials"] = part

    _, moved = mover(counterfeit, to_owner=bob, tamper=add_statement)
    assert not AuthenticityCredential.objects.filter(twin=moved).exists()
    assert standing_for(moved.did, [acme.did]) is None
    assert AuthenticityCredential.objects.filter(twin=g2).count() == 1  # the genuine one is untouched


def test_a_statement_its_maker_revoked_arrives_revoked_whatever_the_package_says(mover, made, acme, bob, on_a):
    g1, _ = made
    credential = AuthenticityCredential.objects.get(twin=g1)
    on_a.SITE_URL = B_URL  # the maker's list is the destination's (see `made`)
    try:
        authenticity_revoke(issuer=issuer_of(acme), credential=credential, reason="counterfeit serial")
    finally:
        on_a.SITE_URL = A_URL

    def unrevoke(package: dict) -> None:
        for item in package["parts"]["credentials"]["authenticity"]:
            item["revoked_at"], item["revoked_reason"] = None, ""

    _, moved = mover(g1, to_owner=bob, tamper=unrevoke)
    (row,) = AuthenticityCredential.objects.filter(twin=moved)
    assert row.revoked_at is not None  # the maker's bit here says so
    assert standing_for(moved.did, [acme.did]) is None
