"""The makers part of a move: the thing's link to its model and maker travels as GTIN, serial and the maker's
DID, and is restored where the maker is; the maker's GS1 Digital Link of a moved thing answers 308 to the same
path on the thing's new host (the model's own links stay the maker's)."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import pytest

from makers.claims import claim
from makers.models import ProducedThing
from makers.portability import export
from makers.production import produce
from tests.makers.conftest import acme, acme_model, dora, erin  # noqa: F401 (fixtures)
from tests.moves.test_parts_harness import (  # noqa: F401 (on_a and mover are fixtures)
    A_URL,
    B_URL,
    assert_portable,
    mover,
    on_a,
    release,
)

pytestmark = [pytest.mark.django_db, pytest.mark.needs("makers", "tags"), pytest.mark.usefixtures("on_a")]

LINK = "/01/09506000134352/21/G-1"


@pytest.fixture
def made(acme_model, alice):
    """A Grindmaster made by Acme (serial G-1) and claimed by alice."""
    ((produced, code),) = produce(model=acme_model, serials=["G-1"], by=None)
    claim(twin=produced.twin, buyer=alice, code=code)
    produced.twin.refresh_from_db()
    return produced.twin


def test_the_link_to_the_maker_comes_back_equal_where_the_maker_is(mover, made, acme, bob):
    before = export(made)
    assert before["gtin"] == "09506000134352" and before["serial"] == "G-1"
    assert before["organisation"] == {"did": acme.did, "slug": "acme", "name": "Acme Grinders", "url": A_URL}
    _, moved = mover(made, to_owner=bob)
    after = export(moved)
    assert after == {**before, "claimed_by_owner": True}  # claimed by the owner there, the owner here now
    produced = ProducedThing.objects.get(twin=moved)
    assert produced.claimed_by == bob and produced.model.gtin == before["gtin"]


def test_where_the_maker_is_not_the_link_travels_in_the_package_only(mover, made, acme_model, bob):
    package, moved = mover(made, to_owner=bob, delete=lambda: acme_model.delete())
    assert not ProducedThing.objects.filter(twin=moved).exists()
    assert package["parts"]["makers"]["serial"] == "G-1"


def test_the_package_is_json_and_holds_no_sealed_blob_of_ours(mover, made, bob):
    package, _ = mover(made, to_owner=bob)
    assert_portable(package, "makers")


def test_the_digital_link_of_a_moved_thing_answers_308_to_the_same_path_on_its_new_host(made, bob, anon_client):
    assert anon_client.get(LINK).status_code == 200
    release(made, to=bob)
    response = anon_client.get(LINK)
    assert response.status_code == 308 and response["Location"] == B_URL + LINK
    query = anon_client.get(LINK + "?linkType=gs1:defaultLink")
    assert query.status_code == 308 and query["Location"] == B_URL + LINK + "?linkType=gs1:defaultLink"
    # The model's own links are still the maker's, answered here.
    assert anon_client.get(LINK + "?linkType=all").status_code == 200
