"""A thing on its way to another host (twins.leaving, issue 18) cannot be offered here (a transfer, a handover),
its NFC setting stays as packed, and a scan of its tag is shown but not recorded: all of it would stay behind or
sell a thing where it no longer lives."""

from __future__ import annotations

import pytest

from handover import services as handover_services
from tags import services as tag_services
from tags.models import NfcSetting, Scan
from tests.conftest import client_for
from twins import leaving
from twins.models import Twin
from twins.transfer import offer_create

pytestmark = pytest.mark.django_db

NEW_HOST = "https://things.example.net"


@pytest.fixture
def leaving_grinder(grinder):
    leaving.freeze(grinder, destination_url=NEW_HOST)
    return Twin.objects.get(pk=grinder.pk)


def test_a_leaving_thing_cannot_be_offered_for_transfer(alice, leaving_grinder):
    with pytest.raises(leaving.TwinLeaving):
        offer_create(twin=leaving_grinder, seller=alice, redact_kinds=[])
    assert not leaving_grinder.offers.exists()


def test_a_leaving_thing_cannot_go_into_a_handover(alice, leaving_grinder):
    with pytest.raises(handover_services.HandoverRefused, match="moving to another host"):
        handover_services.handover_create(seller=alice, twins=[leaving_grinder], redact_kinds=[])


def test_a_leaving_things_nfc_setting_is_not_changed(leaving_grinder):
    with pytest.raises(leaving.TwinLeaving):
        tag_services.nfc_setting_update(twin=leaving_grinder, genuine_tap_for_readings=True)
    assert not NfcSetting.objects.exists()


def test_a_scan_of_a_leaving_things_tag_is_shown_and_not_recorded(alice, grinder, grinder_tag, anon_client):
    leaving.freeze(grinder, destination_url=NEW_HOST)
    for client in (client_for(alice), anon_client):
        assert client.get(grinder_tag.get_absolute_url()).status_code == 200
    assert not Scan.objects.exists()
    leaving.thaw(grinder.pk)
    assert client_for(alice).get(grinder_tag.get_absolute_url()).status_code == 200
    assert Scan.objects.filter(by_owner=True).count() == 1
