"""The tags part of a move: tokens and codes kept (printed tags keep working), SUN keys unsealed in the package and
sealed here again with their counter (a tap from before the move is still a replay), the scan log kept."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

from urllib.parse import urlencode

import pytest

from core import vault
from tags import nfc, sun
from tags.models import NfcSetting, Scan, SunKeys, Tag
from tags.portability import export
from tests.moves.test_parts_harness import (  # noqa: F401 (on_a and mover are fixtures)
    assert_portable,
    delete_twin,
    mover,
    on_a,
    through_json,
)
from twins import services as twin_services
from twins.history import history_catch_up
from twins.models import Twin
from twins.portability import PackageError

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags"), pytest.mark.usefixtures("on_a")]

UID = bytes.fromhex("04A1B2C3D4E5F6")


def tap_url(tag: Tag, chip, counter: int) -> str:
    params = sun.encode_tap(meta_key=chip.meta_read_key, file_key=chip.file_read_key, uid=UID, counter=counter)
    return f"{tag.get_absolute_url()}?{urlencode(params)}"


def genuine(response) -> bool:
    return 'data-testid="genuine-tag"' in response.content.decode()


@pytest.fixture
def tagged(grinder, anon_client):
    """The grinder with a plain sticker, a retired one, a SUN chip tapped once (counter 7), a chip whose keys are
    being replaced, some scans, and its owner's NFC setting."""
    sticker = Tag.objects.create(twin=grinder, label="on the lid")
    Tag.objects.create(twin=grinder, status=Tag.Status.RETIRED, label="old")
    chip_tag = Tag.objects.create(twin=grinder, label="chip")
    (chip,) = nfc.sun_provision(tags=[chip_tag])
    assert genuine(anon_client.get(tap_url(chip_tag, chip, 7)))
    anon_client.get(sticker.get_absolute_url())
    spare = Tag.objects.create(twin=grinder, label="spare chip, re-keyed")
    nfc.sun_provision(tags=[spare])
    nfc.sun_provision(tags=[spare], replace=True)  # a replacement pending: the chip still carries the old keys
    NfcSetting.objects.create(twin=grinder, genuine_tap_for_readings=True)
    return grinder, sticker, chip_tag, chip


def test_tags_come_back_equal_for_the_new_owner(mover, tagged, bob):
    grinder, _, _, _ = tagged
    before = export(grinder)
    assert len(before["tags"]) == 4 and len(before["scans"]) == 2
    assert before["tags"][3]["sun"]["previous_meta_read_key"] and before["nfc_setting"]
    _, moved = mover(grinder, to_owner=bob)
    assert moved.owner == bob
    assert export(moved) == before
    assert Scan.objects.filter(twin=moved).count() == 2
    # The scans went into the signed history on the source before they left: none is written there twice here.
    assert not Scan.objects.filter(twin=moved, in_history=False).exists()
    assert history_catch_up(twin=moved) == []


def test_the_package_is_json_and_holds_no_sealed_blob_of_ours(mover, tagged, bob):
    grinder = tagged[0]
    package, _ = mover(grinder, to_owner=bob)
    assert_portable(package, "tags")
    chip, spare = [item["sun"] for item in package["parts"]["tags"]["tags"] if item["sun"]]
    assert chip["meta_read_key"] and chip["last_counter"] == 7 and chip["previous_meta_read_key"] is None
    assert spare["previous_meta_read_key"] and spare["previous_meta_read_key"] != spare["meta_read_key"]


def test_a_printed_tag_and_a_sun_chip_keep_working_and_an_old_tap_is_still_a_replay(mover, tagged, bob, anon_client):
    grinder, sticker, chip_tag, chip = tagged
    token, chip_token = sticker.token, chip_tag.token
    old_tap = tap_url(chip_tag, chip, 7)
    _, moved = mover(grinder, to_owner=bob)
    Twin.objects.filter(pk=moved.pk).update(arriving=False)  # live here (what twins.moving.activate does)
    keys = SunKeys.objects.get(tag__token=chip_token)
    assert vault.unseal(keys.meta_read_key) == chip.meta_read_key  # sealed again, under this instance's key
    assert keys.last_counter == 7 and keys.uid == UID.hex().upper()
    assert anon_client.get(f"/t/{token}").status_code == 200
    assert not genuine(anon_client.get(old_tap))  # the counter came along: a replay
    moved_tag = Tag.objects.get(token=chip_token)
    assert genuine(anon_client.get(tap_url(moved_tag, chip, 8)))
    assert SunKeys.objects.get(tag=moved_tag).last_counter == 8


def test_a_token_already_here_refuses_the_whole_package(mover, tagged, bob, carol):
    grinder, sticker, _, _ = tagged
    slug, token, code = grinder.slug, sticker.token, sticker.code

    def taken_here() -> None:
        Tag.objects.create(twin=twin_services.twin_create(owner=carol, name="Other"), token=token, code=code)

    with pytest.raises(PackageError):
        mover(grinder, to_owner=bob, delete=taken_here)
    assert not Twin.objects.filter(slug=slug).exists()
