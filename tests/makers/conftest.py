"""Makers' actors: Acme (a manufacturer) with dora as its admin and erin as a member; its grinder model."""

from __future__ import annotations

import pytest

from makers.access import organisation_account_create
from makers.models import Membership, Organisation, ProductModel
from tests.conftest import make_owner


def organisation_make(*, slug: str, name: str, admin) -> Organisation:
    """The organisation as the product makes it (with its DID once makers.orgs exists)."""
    try:
        from makers.orgs import organisation_create
    except ImportError:  # pragma: no cover - until makers.orgs lands
        return organisation_account_create(slug=slug, name=name, admin=admin)
    return organisation_create(slug=slug, name=name, admin=admin)


@pytest.fixture
def dora(db):
    return make_owner("dora")


@pytest.fixture
def erin(db):
    return make_owner("erin")


@pytest.fixture
def acme(dora, erin) -> Organisation:
    organisation = organisation_make(slug="acme", name="Acme Grinders", admin=dora)
    Membership.objects.create(organisation=organisation, owner=erin, role=Membership.Role.MEMBER)
    return organisation


@pytest.fixture
def acme_model(acme) -> ProductModel:
    # 09506000134352 is GS1's own example GTIN (valid check digit).
    return ProductModel.objects.create(
        organisation=acme,
        name="Grindmaster 3000",
        gtin="09506000134352",
        icon="thing",
        reading_kinds=[{"kind": "grams", "unit": "g"}],
    )
