"""The makers part of a move: the thing's link to its model and maker travels as GTIN, serial and the maker's
DID, and is restored where the maker is, on the maker's word only (issue 18's security review: the same thing, by
SCID, takes its row back; a missing row is made only from the maker's verified authenticity credential; a hostile
package never takes over another thing's serial nor claims an unused one); the maker's GS1 Digital Link of a moved
thing answers 308 to the same path on the thing's new host (the model's own links stay the maker's)."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from makers.claims import claim
from makers.models import ProducedThing
from makers.portability import export
from makers.production import produce
from owners.keys import owner_keys_ensure
from owners.models import OwnerKey
from tags.models import Tag
from tests.makers.conftest import acme, acme_model, dora, erin  # noqa: F401 (fixtures)
from tests.moves.conftest import make_room, one_database_parts  # noqa: F401 (fixture)
from tests.moves.test_parts_harness import (  # noqa: F401 (on_a and mover are fixtures)
    A_URL,
    B_DOMAIN,
    B_URL,
    assert_portable,
    mover,
    on_a,
    release,
    through_json,
)
from twins import moving
from twins import services as twin_services
from twins.models import Twin
from twins.portability import PackageError


def anon_client_get(path: str):
    return Client().get(path)


pytestmark = [pytest.mark.django_db, pytest.mark.needs("makers", "tags"), pytest.mark.usefixtures("on_a")]

LINK = "/01/09506000134352/21/G-1"


@pytest.fixture
def made(acme_model, alice, on_a):
    """A Grindmaster made by Acme (serial G-1) and claimed by alice. Acme's status list is served by the
    destination (the maker is there; one database plays both hosts), the thing's DID names the source."""
    on_a.SITE_URL = B_URL
    try:
        ((produced, code),) = produce(model=acme_model, serials=["G-1"], by=None)
    finally:
        on_a.SITE_URL = A_URL
    claim(twin=produced.twin, buyer=alice, code=code)
    produced.twin.refresh_from_db()
    return produced.twin


def test_the_link_to_the_maker_comes_back_equal_where_the_maker_is(mover, made, acme, bob):
    before = export(made)
    assert before["gtin"] == "09506000134352" and before["serial"] == "G-1"
    assert before["organisation"] == {"did": acme.did, "slug": "acme", "name": "Acme Grinders", "url": A_URL}
    _, moved = mover(made, to_owner=bob)
    after = export(moved)
    # Claimed by the owner there, the owner here now; the row was made from Acme's verified authenticity
    # credential (the copy left behind took the old row with it), and a claim code's hash never comes from a package.
    assert after == {**before, "claimed_by_owner": True, "claim_code_hash": ""}
    produced = ProducedThing.objects.get(twin=moved)
    assert produced.claimed_by == bob and produced.model.gtin == before["gtin"]


def test_where_the_maker_is_not_the_link_travels_in_the_package_only(mover, made, acme_model, bob):
    package, moved = mover(made, to_owner=bob, delete=lambda: acme_model.delete())
    assert not ProducedThing.objects.filter(twin=moved).exists()
    assert package["parts"]["makers"]["serial"] == "G-1"


def test_the_package_is_json_and_holds_no_sealed_blob_of_ours(mover, made, bob):
    package, _ = mover(made, to_owner=bob)
    assert_portable(package, "makers")


def test_the_digital_link_of_a_moved_thing_answers_308_to_its_tag_on_its_new_host(made, bob, anon_client):
    assert anon_client.get(LINK).status_code == 200
    release(made, to=bob)
    scan = f"{B_URL}/t/{Tag.objects.get(twin=made).token}"  # the tag moves with its token
    response = anon_client.get(LINK)
    assert response.status_code == 308 and response["Location"] == scan
    query = anon_client.get(LINK + "?linkType=gs1:defaultLink")
    assert query.status_code == 308 and query["Location"] == scan
    # The model's own links are still the maker's, answered here.
    assert anon_client.get(LINK + "?linkType=all").status_code == 200


# --- a hostile source (issue 18's security review) ----------------------------------------------------------------


def _claiming(serial: str, acme) -> Callable[[dict], None]:
    """A tamper that makes the package's thing say it is Acme's ``serial``."""

    def tamper(package: dict) -> None:
        package["parts"]["makers"] = {
            "gtin": "09506000134352",
            "serial": serial,
            "model": "Grindmaster 3000",
            "organisation": {"did": acme.did, "slug": "acme", "name": "Acme Grinders", "url": A_URL},
            "produced_at": "2026-01-01T00:00:00+00:00",
            "claim_code_hash": "0" * 64,
            "claimed_at": None,
            "claimed_by_owner": False,
        }

    return tamper


def test_another_thing_cannot_take_over_the_row_of_a_thing_that_moved_away(mover, made, acme, carol, bob):
    release(made, to=bob)  # G-1 moved away: its row stays here, its twin has moved_to set
    counterfeit = twin_services.twin_create(owner=carol, name="Counterfeit grinder")
    slug = counterfeit.slug
    with pytest.raises(PackageError, match="G-1"):
        mover(counterfeit, to_owner=carol, tamper=_claiming("G-1", acme))
    assert ProducedThing.objects.get(serial="G-1").twin_id == made.pk
    assert not Twin.objects.filter(slug=slug).exists()
    assert anon_client_get(LINK).status_code == 308  # still answered for the real G-1, at its new host


def test_a_package_cannot_claim_a_serial_the_maker_never_produced(mover, acme, acme_model, carol, bob):
    counterfeit = twin_services.twin_create(owner=carol, name="Counterfeit grinder")
    _, moved = mover(counterfeit, to_owner=bob, tamper=_claiming("G-99", acme))
    assert not ProducedThing.objects.filter(serial="G-99").exists()
    assert not ProducedThing.objects.filter(twin=moved).exists()


def test_the_same_thing_coming_back_takes_its_row_back_by_scid(on_a, made, acme, bob, one_database_parts):
    """One database: the copy the thing left behind keeps another slug (and gives up its tags), so the arriving
    copy finds the maker's row still on it, and takes it over because their SCIDs are the same."""
    keys = owner_keys_ensure(owner=bob)
    entries = moving.move_entries(
        made,
        by=made.owner,
        new_domain=B_DOMAIN,
        new_update_key=keys[OwnerKey.Role.CURRENT].public_multibase,
        new_next_key_hash=keys[OwnerKey.Role.NEXT].next_key_hash,
        destination_url=B_URL,
    )
    package = through_json(moving.move_package(made, entries=entries))
    moving.release(made, entries=entries, destination_url=B_URL)
    make_room(made)
    Tag.objects.filter(twin=made).delete()
    on_a.DID_DOMAIN, on_a.SITE_URL = B_DOMAIN, B_URL
    arrived = moving.arrive(package, owner=bob, source_url=A_URL, destination_url=B_URL)
    produced = ProducedThing.objects.get(serial="G-1")
    assert produced.twin_id == arrived.pk and produced.claimed_by == bob
