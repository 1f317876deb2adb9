"""The GS1 Digital Link printed on a thing that moved to a host where its maker is not (issue 18: printed tags keep
working): the old host's resolver sends the scan on to the thing's tag on the new host (its token travels with it),
which that host answers whether or not it knows the maker's product model. One database plays both hosts
(tests/moves/test_parts_harness.py): the maker's model is deleted before "B" answers, as B would not have it."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import pytest
from django.test import TestCase

from makers.models import ProducedThing
from owners.keys import owner_keys_ensure
from owners.models import OwnerKey
from tags.models import Tag
from tests.makers.conftest import acme, acme_model, dora, erin  # noqa: F401 (fixtures)
from tests.moves.conftest import make_room, one_database_parts  # noqa: F401 (fixture)
from tests.moves.test_parts_harness import A_URL, B_DOMAIN, B_URL, on_a, through_json  # noqa: F401
from tests.moves.test_parts_makers import LINK, made  # noqa: F401 (fixture)
from twins import moving

pytestmark = [pytest.mark.django_db, pytest.mark.needs("makers", "tags"), pytest.mark.usefixtures("on_a")]


def test_the_digital_link_of_a_thing_moved_where_its_maker_is_not_lands_on_the_thing(
    on_a, made, acme_model, bob, anon_client, one_database_parts
):
    token = Tag.objects.get(twin=made).token
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

    # On A: the printed link goes on to the thing's tag on B, a URL B answers without the maker.
    for query in ("", "?linkType=gs1:defaultLink"):
        answer = anon_client.get(LINK + query)
        assert answer.status_code == 308 and answer["Location"] == f"{B_URL}/t/{token}"

    # On B, which has never heard of Acme's model: the same path is unknown there, the tag is the thing.
    make_room(made)
    Tag.objects.filter(twin=made).delete()  # one database: the tag's token arrives with the thing
    ProducedThing.objects.filter(model=acme_model).delete()
    acme_model.delete()
    on_a.DID_DOMAIN, on_a.SITE_URL = B_DOMAIN, B_URL
    arrived = moving.arrive(package, owner=bob, source_url=A_URL, destination_url=B_URL)
    with TestCase.captureOnCommitCallbacks(execute=True):
        moving.activate(arrived)
    assert anon_client.get(LINK).status_code == 404
    page = anon_client.get(f"/t/{token}")
    assert page.status_code == 200 and arrived.name.encode() in page.content
