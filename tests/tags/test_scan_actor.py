"""Scans on the owner's page are attributed to whoever scanned, as of when they scanned (issue 14, finding 4): after
a sale the seller's scans are "a previous owner", not the buyer's "you"."""

import pytest
from django.urls import reverse

from tags.services import scan_record
from tests.conftest import client_for
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db


def test_buyer_sees_the_sellers_scans_as_a_previous_owners_not_as_theirs(grinder, grinder_tag, alice, bob):
    scan_record(tag=grinder_tag, by_owner=True, user_agent="Seller's phone")
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    offer_accept(offer=offer, buyer=bob)
    scan_record(tag=grinder_tag, by_owner=True, user_agent="Buyer's phone")
    page = client_for(bob).get(reverse("thing", args=[grinder.slug])).content.decode()
    rows = page[page.index('id="scans"') :]
    seller_row = rows[: rows.index("Seller&#x27;s phone")]
    seller_row = seller_row[seller_row.rindex("<tr>") :]
    buyer_row = rows[: rows.index("Buyer&#x27;s phone")]
    buyer_row = buyer_row[buyer_row.rindex("<tr>") :]
    assert "a previous owner" in seller_row and "you" not in seller_row
    assert "<td>you</td>" in buyer_row
