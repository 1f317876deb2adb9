"""After a sale the seller's records of it name the thing as it was at the sale: a buyer's later renaming is the
buyer's (the completed handover's page and API, the transfer-offers list, the former owner's 404). The buyer, who
owns it, sees its current name; a buyer who sold it on in turn sees the name it had when they bought it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from handover.models import Handover
from handover.services import handover_accept, handover_create
from owners.models import Notification
from owners.services import notify
from tests.conftest import api_for, client_for
from twins import services as twin_services
from twins.models import TransferOffer, Twin
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db

RENAMED = "Daisy the Second"


def _sold_in_a_handover(herd, alice, bob) -> Handover:
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[], days=3)
    handover = handover_accept(handover=handover, buyer=bob)
    assert handover.status == Handover.Status.COMPLETED
    return handover


def _rename(twin: Twin, name: str) -> None:
    twin_services.twin_update(twin=Twin.objects.get(pk=twin.pk), name=name)


def test_the_sellers_completed_handover_page_names_the_things_as_they_were_at_the_sale(herd, alice, bob):
    handover = _sold_in_a_handover(herd, alice, bob)
    _rename(herd[0], RENAMED)
    page = client_for(alice).get(reverse("handover", args=[handover.public_id])).content.decode()
    assert RENAMED not in page
    assert all(name in page for name in ("Cow 1", "Cow 2", "Cow 3"))


def test_the_sellers_handover_api_names_the_things_as_they_were_at_the_sale(herd, alice, bob):
    handover = _sold_in_a_handover(herd, alice, bob)
    _rename(herd[0], RENAMED)
    body = api_for(alice).get(f"/api/handovers/{handover.public_id}").json()
    assert [thing["thing_name"] for thing in body["things"]] == ["Cow 1", "Cow 2", "Cow 3"]


def test_the_buyer_sees_the_current_names_on_the_handover_they_accepted(herd, alice, bob):
    handover = _sold_in_a_handover(herd, alice, bob)
    _rename(herd[0], RENAMED)
    page = client_for(bob).get(reverse("handover-offer", args=[handover.token])).content.decode()
    assert RENAMED in page


def test_a_buyer_who_sold_a_thing_on_sees_it_by_the_name_it_had_when_they_bought_it(herd, alice, bob, carol):
    handover = _sold_in_a_handover(herd, alice, bob)
    offer_accept(offer=offer_create(twin=Twin.objects.get(pk=herd[0].pk), seller=bob, redact_kinds=[]), buyer=carol)
    _rename(herd[0], RENAMED)
    page = client_for(bob).get(reverse("handover-offer", args=[handover.token])).content.decode()
    assert RENAMED not in page and "Cow 1" in page


def test_the_sellers_transfer_offers_list_names_the_thing_as_it_was_at_the_sale(grinder, alice, bob):
    offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    _rename(grinder, RENAMED)
    (seller_row,) = api_for(alice).get("/api/transfers/").json()["results"]
    assert seller_row["role"] == "seller" and seller_row["thing_name"] == grinder.name
    (buyer_row,) = api_for(bob).get("/api/transfers/").json()["results"]
    assert buyer_row["role"] == "buyer" and buyer_row["thing_name"] == RENAMED


def test_the_sellers_unfinished_offer_for_a_thing_sold_since_names_nothing(grinder, alice, bob):
    cancelled = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    TransferOffer.objects.filter(pk=cancelled.pk).update(status=TransferOffer.Status.CANCELLED)
    offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    _rename(grinder, RENAMED)
    rows = api_for(alice).get("/api/transfers/").json()["results"]
    assert sorted(row["thing_name"] or "" for row in rows) == ["", grinder.name]


def test_the_former_owners_page_of_a_sold_thing_names_it_as_it_was_at_the_sale(grinder, alice, bob):
    offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    _rename(grinder, RENAMED)
    response = client_for(alice).get(reverse("thing", args=[grinder.slug]))
    assert response.status_code == 404
    page = response.content.decode()
    assert RENAMED not in page and grinder.name in page


# --- twins 0020: past sales get the name the sale's own notices wrote -------------------------------------------

BEFORE = ("twins", "0019_reading_series_covers_value")
AFTER = ("twins", "0020_offer_thing_name")


@pytest.mark.django_db(transaction=True)
def test_the_migration_recovers_past_sales_names_from_their_notices_and_leaves_the_rest_unnamed(
    grinder, alice, bob, carol
):
    now = timezone.now()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([BEFORE])
        old = executor.loader.project_state([BEFORE]).apps.get_model("twins", "TransferOffer")

        def sale(twin, *, seller=alice, buyer=bob, when=now):
            return old.objects.create(
                twin_id=twin.pk,
                seller_id=seller.pk,
                buyer_id=buyer.pk,
                status="completed",
                completed_at=when,
                expires_at=when + timedelta(days=1),
            ).pk

        # A single sale: the buyer's notice names the twin ("<name> is yours").
        with_buyers_notice = sale(grinder)
        notify(owner=bob, kind=Notification.Kind.SYSTEM, title="Grinder at the sale is yours", twin=grinder)
        # The buyer deleted theirs: the seller's ("<name> now belongs to <buyer>") still says it.
        kettle = twin_services.twin_create(owner=bob, name="Kettle now")
        with_sellers_notice = sale(kettle, seller=carol)
        notify(owner=carol, kind=Notification.Kind.SYSTEM, title="Kettle at the sale now belongs to bob")
        # Two things sold to one buyer at once (a handover): a seller's notice names no twin, so it is neither's.
        cows = [twin_services.twin_create(owner=carol, name=f"Cow {n} now") for n in (1, 2)]
        ambiguous = [sale(cow, buyer=carol) for cow in cows]
        notify(owner=alice, kind=Notification.Kind.SYSTEM, title="Cow 1 at the sale now belongs to carol")
        # A notice months away from the sale is another sale's.
        lamp = twin_services.twin_create(owner=alice, name="Lamp now")
        long_before = sale(lamp, seller=carol, buyer=alice, when=now - timedelta(days=90))
        notify(owner=alice, kind=Notification.Kind.SYSTEM, title="Another lamp is yours", twin=lamp)

        executor = MigrationExecutor(connection)
        executor.migrate([AFTER])
        names = dict(TransferOffer.objects.values_list("pk", "thing_name"))
        assert names[with_buyers_notice] == "Grinder at the sale"
        assert names[with_sellers_notice] == "Kettle at the sale"
        assert [names[pk] for pk in ambiguous] == ["", ""] and names[long_before] == ""
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
