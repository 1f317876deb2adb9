"""load_demo's upkeep part: a warranty about to end, maintenance due soon, a receipt; Bessie lost with a reward and
a year of readings; a pending transfer offer to the demo owner, announced in the inbox. Made once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from owners.models import Notification, Owner
from tests.conftest import client_for
from twins.models import HistoryEntry, TransferOffer, Twin
from upkeep.models import Attachment, Purchase, Schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path) -> Owner:
    settings.LOCAL_DIR = tmp_path
    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())  # again: nothing twice
    return Owner.objects.get(username="demo")


def test_the_grinder_has_a_warranty_about_to_end_maintenance_due_soon_and_a_receipt(demo):
    grinder = Twin.objects.get(owner=demo, name="Coffee grinder")
    today = timezone.localdate()
    purchase = Purchase.objects.get(twin=grinder)
    assert 0 < (purchase.warranty_ends - today).days <= 30 and purchase.currency == "EUR"
    descale = Schedule.objects.get(twin=grinder, name="Descale")
    assert 0 <= (descale.next_due - today).days <= 7
    receipt = Attachment.objects.get(twin=grinder)
    assert receipt.content_type == "application/pdf" and receipt.file.read().startswith(b"%PDF-")
    page = client_for(demo).get(f"/things/{grinder.slug}/").content.decode()
    assert 'data-testid="warranty-soon"' in page and "Descale" in page and "Receipt" in page


def test_bessie_is_lost_with_a_reward_and_has_a_year_of_readings_committed_to_history(demo):
    bessie = Twin.objects.get(owner=demo, name="Bessie")
    assert bessie.lost and bessie.lost_reward
    readings = bessie.readings.order_by("time")
    assert readings.count() >= 365
    assert (readings.last().time - readings.first().time).days >= 360
    assert bessie.latest_value is not None
    committed = HistoryEntry.objects.filter(twin=bessie, kind=HistoryEntry.Kind.READING).count()
    assert committed >= 12  # a month a history entry, plus load_demo's own weekly ones


def test_the_demo_owner_has_a_pending_transfer_offer_in_the_inbox(demo):
    offer = TransferOffer.objects.get(buyer__isnull=True, twin__name="Road bike")
    assert offer.status == TransferOffer.Status.OPEN and offer.seller.username == "demo-neighbour"
    assert not offer.seller.has_usable_password()
    item = Notification.objects.get(owner=demo, title__contains="road bike")
    assert item.action_url == f"/transfer/{offer.token}"
    assert client_for(demo).get(item.action_url).status_code == 200
