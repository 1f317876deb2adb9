"""One-tap readings logged from a scan (the scan page's one-box form, POST /t/<token>/reading) and the owner's
setting that requires a genuine NTAG 424 DNA tap for them: the caller of tags.nfc.require_genuine_tap. With it on,
a reading proves the thing was in hand (a keeper's check-in); a copied or replayed tag URL, or no tap, gets a 403
that says what to do, and nothing is stored."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from tags import nfc, sun
from tags.models import NfcSetting
from tests.conftest import client_for
from twins import access
from twins.models import Reading

pytestmark = pytest.mark.django_db

UID = bytes.fromhex("04DD0000AA5501")


@pytest.fixture
def chip(grinder_tag):
    (provisioned,) = nfc.sun_provision(tags=[grinder_tag])
    return provisioned


@pytest.fixture
def required(grinder, alice):
    response = client_for(alice).post(
        reverse("tag-nfc-setting", args=[grinder.slug]), {"genuine_tap_for_readings": "on"}
    )
    assert response.status_code == 302
    assert NfcSetting.objects.get(twin=grinder).genuine_tap_for_readings
    return grinder


@pytest.fixture
def bob_keeps_the_grinder(grinder, bob):
    """bob looks after alice's grinder and may add readings (the seam credentials' keepers use)."""

    def provider(viewer, twin):
        if viewer.pk == bob.pk and twin.pk == grinder.pk:
            return access.Access(role="keeper", capabilities=frozenset({access.READINGS_WRITE}))
        return None

    access.register_provider("test-keeper", provider)
    yield bob
    access._providers.pop("test-keeper", None)


def tap_url(chip, counter: int) -> str:
    params = sun.encode_tap(meta_key=chip.meta_read_key, file_key=chip.file_read_key, uid=UID, counter=counter)
    return f"{chip.tag.get_absolute_url()}?{urlencode(params)}"


def log_reading(client, tag, value: str = "21.5"):
    return client.post(reverse("tag-reading", args=[tag.token]), {"value": value})


def test_without_the_setting_the_one_box_form_logs_a_tag_reading_with_no_tap(alice, grinder_tag):
    response = log_reading(client_for(alice), grinder_tag)
    assert response.status_code == 302 and response["Location"] == reverse("thing", args=[grinder_tag.twin.slug])
    reading = Reading.objects.get()
    assert reading.value == 21.5 and reading.source == Reading.Source.TAG and reading.added_by == alice


def test_with_the_setting_a_genuine_tap_allows_the_reading(alice, chip, required):
    client = client_for(alice)
    scan = client.get(tap_url(chip, 1))
    assert 'data-testid="genuine-tag"' in scan.content.decode()
    assert log_reading(client, chip.tag).status_code == 302
    assert Reading.objects.get().source == Reading.Source.TAG


def test_with_the_setting_no_tap_is_refused_with_a_403_that_says_what_to_do(alice, chip, required):
    client = client_for(alice)
    client.get(chip.tag.get_absolute_url())  # the QR code: a scan, not a tap
    response = log_reading(client, chip.tag)
    assert response.status_code == 403
    page = response.content.decode()
    assert "tap its NFC tag with your phone" in page and "Tap the tag first" in page
    assert not Reading.objects.exists()


def test_with_the_setting_a_replayed_or_copied_tap_url_is_refused(alice, carol, chip, required, anon_client):
    url = tap_url(chip, 7)
    assert 'data-testid="genuine-tag"' in anon_client.get(url).content.decode()  # someone's real tap
    client = client_for(alice)
    assert 'data-testid="genuine-tag"' not in client.get(url).content.decode()  # the same URL, replayed
    response = log_reading(client, chip.tag)
    assert response.status_code == 403 and "tap its NFC tag" in response.content.decode()
    assert not Reading.objects.exists()


def test_with_the_setting_and_no_ntag_424_the_403_says_to_program_one(alice, grinder_tag, required):
    response = log_reading(client_for(alice), grinder_tag)
    assert response.status_code == 403 and "has no NTAG 424 DNA tag" in response.content.decode()


def test_with_the_setting_the_json_answer_carries_the_message(alice, chip, required):
    response = client_for(alice).post(
        reverse("tag-reading", args=[chip.tag.token]), {"value": "3"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 403 and "tap its NFC tag" in response.json()["message"]


def test_a_keeper_gets_the_one_box_form_on_a_scan_and_checks_in_with_a_genuine_tap(
    bob_keeps_the_grinder, chip, required, alice
):
    keeper = client_for(bob_keeps_the_grinder)
    assert log_reading(keeper, chip.tag).status_code == 403
    scan = keeper.get(tap_url(chip, 2)).content.decode()
    assert 'data-testid="one-box"' in scan and 'data-testid="genuine-tag"' in scan
    assert "You look after" in scan and 'data-testid="found-it"' not in scan
    assert log_reading(keeper, chip.tag, "4").status_code == 302
    reading = Reading.objects.get()
    assert reading.added_by == bob_keeps_the_grinder and reading.source == Reading.Source.TAG


def test_a_stranger_gets_404_and_the_public_page(carol, chip, required):
    stranger = client_for(carol)
    assert 'data-testid="one-box"' not in stranger.get(tap_url(chip, 3)).content.decode()
    assert log_reading(stranger, chip.tag).status_code == 404
    assert not Reading.objects.exists()


def test_a_bad_value_is_a_400_with_the_form(alice, grinder_tag):
    response = log_reading(client_for(alice), grinder_tag, "")
    assert response.status_code == 400 and not Reading.objects.exists()


def test_only_the_owner_changes_the_setting_and_the_page_shows_it(
    alice, carol, grinder, grinder_tag, bob_keeps_the_grinder
):
    url = reverse("tag-nfc-setting", args=[grinder.slug])
    assert client_for(carol).post(url, {"genuine_tap_for_readings": "on"}).status_code == 404
    assert client_for(bob_keeps_the_grinder).post(url, {"genuine_tap_for_readings": "on"}).status_code == 404
    assert not NfcSetting.objects.exists()
    owner = client_for(alice)
    owner.post(url, {"genuine_tap_for_readings": "on"})
    assert 'name="genuine_tap_for_readings" value="on" aria-describedby="nfc-setting-help" checked' in (
        owner.get(reverse("tag-nfc", args=[grinder.slug])).content.decode()
    )
    owner.post(url, {})
    assert not NfcSetting.objects.get(twin=grinder).genuine_tap_for_readings


def test_the_things_own_reading_form_cannot_pass_a_reading_off_as_from_a_scan(bob_keeps_the_grinder, chip, required):
    # The thing page's form (POST /things/<slug>/readings/...) once took `via=tag` and stored the reading as from a
    # scan, around the genuine-tap requirement: what it stores is always a manual reading.
    response = client_for(bob_keeps_the_grinder).post(
        reverse("reading-new", args=[chip.tag.twin.slug]), {"value": "21.5", "via": "tag"}
    )
    assert response.status_code == 302
    assert Reading.objects.get().source == Reading.Source.MANUAL
