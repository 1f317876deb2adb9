"""A move called off after the package arrived (twins.moving.discard): what the feature parts made for the owner
for that arrival goes with it (sharing's webhook endpoint copies, inventory's places and labels, makers' rows taken
over from the copy the thing left here go back to it); what the owner had already, and the package was matched to,
stays theirs, and so does what the owner has used since for another thing."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import pytest
from django.test import TestCase
from django.utils import timezone

from inventory.models import Label, Location, Placement
from makers.models import ProducedThing
from owners.keys import owner_keys_ensure
from owners.models import OwnerKey
from sharing import grants
from sharing.models import Grant, WebhookEndpoint
from tags.models import Tag
from tests.didcomm.endpoints import closed_port
from tests.makers.conftest import acme, acme_model, dora, erin  # noqa: F401 (fixtures)
from tests.moves.conftest import make_room, one_database_parts  # noqa: F401 (fixture)
from tests.moves.test_parts_harness import A_URL, B_DOMAIN, B_URL, mover, on_a, through_json  # noqa: F401
from tests.moves.test_parts_makers import made  # noqa: F401 (fixture)
from twins import moving
from twins import services as twin_services
from twins.models import Twin

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_a")]


def _discard(twin: Twin) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        moving.discard(twin)
    assert not Twin.objects.filter(pk=twin.pk).exists()


def _endpoint(owner, url: str) -> WebhookEndpoint:
    endpoint, _ = grants.webhook_endpoint_create(owner=owner, label="Insurer", url=url)
    return endpoint


# --- sharing ------------------------------------------------------------------------------------------------------


@pytest.mark.needs("sharing")
def test_the_webhook_endpoint_copied_for_the_arrival_goes_with_it(mover, alice, grinder, bob):
    endpoint = _endpoint(alice, f"http://127.0.0.1:{closed_port()}/")
    grants.grant_create(twin=grinder, party=endpoint, kinds=["readings"], by=alice)
    _, moved = mover(grinder, to_owner=bob, delete=lambda: endpoint.delete())
    assert WebhookEndpoint.objects.filter(owner=bob).count() == 1  # the arrival's copy
    _discard(moved)
    assert not WebhookEndpoint.objects.filter(owner=bob).exists()


@pytest.mark.needs("sharing")
def test_an_endpoint_the_owner_had_or_uses_for_another_thing_since_stays(mover, alice, grinder, bob):
    url = f"http://127.0.0.1:{closed_port()}/"
    endpoint = _endpoint(alice, url)
    grants.grant_create(twin=grinder, party=endpoint, kinds=["readings"], by=alice)
    # bob has the same endpoint (URL and secret) already, the copy an earlier thing of his came with (only a copy
    # has another's secret): the package is matched to it.
    kettle = twin_services.twin_create(owner=bob, name="Kettle", icon="thing", reading_kind="t", reading_unit="C")
    had = WebhookEndpoint.objects.create(owner=bob, label="Mine", url=url, secret_sealed=endpoint.secret_sealed)
    Grant.objects.create(twin=kettle, endpoint=had, kinds=["readings"])
    other = _endpoint(alice, f"http://127.0.0.1:{closed_port()}/other")
    grants.grant_create(twin=grinder, party=other, kinds=["journal"], by=alice)
    _, moved = mover(grinder, to_owner=bob, delete=lambda: WebhookEndpoint.objects.filter(owner=alice).delete())
    copy = WebhookEndpoint.objects.get(owner=bob, label="Insurer")
    assert Grant.objects.filter(twin=moved, endpoint=had).exists()
    # Since the arrival, bob grants another thing of his over the copy: it is his now.
    Grant.objects.create(twin=kettle, endpoint=copy, kinds=["journal"])
    _discard(moved)
    assert set(WebhookEndpoint.objects.filter(owner=bob)) == {had, copy}


# --- inventory ----------------------------------------------------------------------------------------------------


def _place(owner, path: list[str]) -> Location:
    parent = None
    for name in path:
        parent = Location.objects.get_or_create(owner=owner, parent=parent, name=name)[0]
    return parent


@pytest.mark.needs("inventory")
def test_the_places_and_labels_made_for_the_arrival_go_and_the_owners_own_stay(mover, alice, grinder, bob):
    Placement.objects.create(
        twin=grinder, location=_place(alice, ["Home", "Kitchen", "Drawer"]), moved_at=timezone.now()
    )
    for name in ("Coffee", "Appliances"):
        Label.objects.create(owner=alice, name=name).twins.add(grinder)
    bobs_home = _place(bob, ["home"])  # matched case-insensitively: bob's own
    bobs_label = Label.objects.create(owner=bob, name="appliances", colour="#112233")
    _, moved = mover(grinder, to_owner=bob)
    drawer = Placement.objects.get(twin=moved).location
    assert [drawer.name, drawer.parent.name, drawer.parent.parent] == ["Drawer", "Kitchen", bobs_home]
    assert set(Label.objects.filter(twins=moved).values_list("name", flat=True)) == {"Coffee", "appliances"}
    _discard(moved)
    assert list(Location.objects.filter(owner=bob)) == [bobs_home]
    assert list(Label.objects.filter(owner=bob)) == [bobs_label]


@pytest.mark.needs("inventory")
def test_a_place_the_owner_has_put_another_thing_in_since_stays(mover, alice, grinder, bob):
    Placement.objects.create(
        twin=grinder, location=_place(alice, ["Home", "Kitchen", "Drawer"]), moved_at=timezone.now()
    )
    Label.objects.create(owner=alice, name="Coffee").twins.add(grinder)
    _, moved = mover(grinder, to_owner=bob)
    kitchen = Location.objects.get(owner=bob, name="Kitchen")
    kettle = twin_services.twin_create(owner=bob, name="Kettle", icon="thing", reading_kind="t", reading_unit="C")
    Placement.objects.create(twin=kettle, location=kitchen, moved_at=timezone.now())
    Label.objects.get(owner=bob, name="Coffee").twins.add(kettle)
    _discard(moved)
    assert set(Location.objects.filter(owner=bob).values_list("name", flat=True)) == {"Home", "Kitchen"}
    assert Label.objects.filter(owner=bob, name="Coffee").exists()


# --- makers -------------------------------------------------------------------------------------------------------


@pytest.mark.needs("makers", "tags", "credentials")
def test_a_makers_row_made_for_the_arrival_goes_with_it(mover, made, bob):
    _, moved = mover(made, to_owner=bob)
    assert ProducedThing.objects.filter(twin=moved, serial="G-1").exists()  # made on the maker's credential
    _discard(moved)
    assert not ProducedThing.objects.filter(serial="G-1").exists()


@pytest.mark.needs("makers", "tags")
def test_a_makers_row_taken_over_from_the_copy_left_here_goes_back_to_it(on_a, made, alice, bob, one_database_parts):
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
    assert ProducedThing.objects.get(serial="G-1").twin_id == arrived.pk  # taken over (same SCID)
    _discard(arrived)
    produced = ProducedThing.objects.get(serial="G-1")
    assert produced.twin_id == made.pk and produced.claimed_by == alice
