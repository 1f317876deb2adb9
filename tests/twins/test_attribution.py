"""History is attributed to whoever acted, as of when they acted (issue 14, finding 4), for readings and journal
notes as for scans (twins.attribution, one function for all): after a sale the buyer's page says the seller's
entries are "a previous owner"'s, by when they were stored, whatever time the seller typed; a keeper's entries,
recorded with their actor, name the keeper to the owner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import client_for
from twins import access, attribution, services
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db


def _row_of(page: str, marker: str, start: str) -> str:
    """The HTML of the row (`start` tag) of `page` that holds `marker`."""
    at = page.index(marker)
    begin = page.rindex(start, 0, at)
    end = page.index(start.replace("<", "</"), at)
    return page[begin:end]


@pytest.fixture
def sold_grinder(grinder, alice, bob):
    """The seller's reading and a note dated (by the seller) a year after the sale; then sold to bob, who adds his
    own."""
    services.reading_add(twin=grinder, value=111, by=alice)
    services.note_create(twin=grinder, title="Seller descaled it", time=timezone.now() + timedelta(days=365), by=alice)
    offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    grinder.refresh_from_db()
    services.reading_add(twin=grinder, value=222, by=bob)
    services.note_create(twin=grinder, title="Buyer cleaned it", by=bob)
    return grinder


def test_buyer_sees_the_sellers_readings_and_notes_as_a_previous_owners(sold_grinder, bob):
    page = client_for(bob).get(reverse("thing", args=[sold_grinder.slug])).content.decode()
    assert "by a previous owner" in _row_of(page, ">111 ", "<tr")
    assert "acted-by" not in _row_of(page, ">222 ", "<tr")
    # The seller typed a time after the sale: it is still theirs (created_at decides, not `time`).
    assert "by a previous owner" in _row_of(page, "Seller descaled it", "<article")
    assert "acted-by" not in _row_of(page, "Buyer cleaned it", "<article")


def test_the_all_readings_page_attributes_them_too(sold_grinder, bob):
    page = client_for(bob).get(reverse("readings", args=[sold_grinder.slug])).content.decode()
    assert "by a previous owner" in _row_of(page, ">111 ", "<tr")
    assert "acted-by" not in _row_of(page, ">222 ", "<tr")


def test_readings_and_notes_added_on_the_page_record_who_added_them(alice_client, grinder, alice):
    alice_client.post(reverse("reading-new", args=[grinder.slug]), {"value": "5"})
    alice_client.post(reverse("note-new", args=[grinder.slug]), {"title": "Oiled"})
    assert grinder.readings.get().added_by == alice and grinder.notes.get().added_by == alice


def test_readings_and_notes_added_through_the_api_record_who_added_them(alice_api, grinder, alice):
    assert alice_api.post(f"/api/things/{grinder.slug}/readings/", {"value": 5}, format="json").status_code == 201
    note = alice_api.post(f"/api/things/{grinder.slug}/journal/", {"title": "Oiled"}, format="json")
    assert note.status_code == 201, note.content
    assert grinder.readings.get().added_by == alice and grinder.notes.get().added_by == alice


@pytest.fixture
def bob_keeps_the_grinder(grinder, bob):
    """bob looks after alice's grinder: a provider of capabilities (the seam credentials' keepers use)."""

    def provider(viewer, twin):
        if viewer.pk == bob.pk and twin.pk == grinder.pk:
            return access.Access(role="keeper", capabilities=frozenset(access.CAPABILITIES))
        return None

    access.register_provider("test-keeper", provider)
    yield
    access._providers.pop("test-keeper", None)


def test_a_keepers_entries_name_the_keeper_and_the_keeper_sees_the_owners_by_name(
    bob_keeps_the_grinder, grinder, alice, bob
):
    keeper = client_for(bob)
    keeper.post(reverse("reading-new", args=[grinder.slug]), {"value": "7"})
    keeper.post(reverse("note-new", args=[grinder.slug]), {"title": "Keeper watered it"})
    services.note_create(twin=grinder, title="Owner's note", by=alice)
    owner_page = client_for(alice).get(reverse("thing", args=[grinder.slug])).content.decode()
    assert "by bob" in _row_of(owner_page, ">7 ", "<tr")
    assert "by bob" in _row_of(owner_page, "Keeper watered it", "<article")
    assert "acted-by" not in _row_of(owner_page, "Owner&#x27;s note", "<article")
    keeper_page = keeper.get(reverse("thing", args=[grinder.slug])).content.decode()
    assert "by alice" in _row_of(keeper_page, "Owner&#x27;s note", "<article")
    assert "acted-by" not in _row_of(keeper_page, "Keeper watered it", "<article")


def test_a_previous_owners_keeper_is_not_named_to_the_buyer(grinder, alice, bob, carol):
    note = services.note_create(twin=grinder, title="Kept by carol", by=carol)
    offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    grinder.refresh_from_db()
    assert attribution.acted_by(twin=grinder, created_at=note.created_at, actor_id=carol.pk) == "a previous owner"


def test_entries_without_an_actor_are_the_owner_of_the_time(grinder, alice):
    reading = services.reading_add(twin=grinder, value=3)
    assert attribution.acted_by(twin=grinder, created_at=reading.created_at) == "you"
