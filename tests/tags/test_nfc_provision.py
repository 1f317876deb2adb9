"""NTAG 424 DNA SUN provisioning: the owner's page and `manage.py sun_provision` produce fresh keys (sealed at rest,
shown once) and SDM settings that work. The proof: a simulated chip that does exactly what the file tells a
programming tool (write `ndef_file_hex`, mirror PICCData and the MAC at the given offsets) produces URLs the scan
page accepts as genuine."""

from __future__ import annotations

import csv
import io
import json
import os
import stat

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from core import vault
from tags import ndef, nfc, nfc_provision, sun
from tags.models import SunKeys, Tag
from tags.services import tag_batch_create, tag_create, tag_retire
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

UID = bytes.fromhex("04112233445566")


def chip_tap(row: dict, counter: int) -> str:
    """What a chip programmed from this row serves on a tap: its NDEF file with PICCData and the MAC mirrored at
    the offsets the row gives, read back as a URL."""
    keys = {"meta_key": bytes.fromhex(row["key1_sdm_meta_read"]), "file_key": bytes.fromhex(row["key2_sdm_file_read"])}
    mirrored = sun.encode_tap(**keys, uid=UID, counter=counter)
    file = bytearray(bytes.fromhex(row["ndef_file_hex"]))
    picc, mac = int(row["picc_data_offset"]), int(row["sdm_mac_offset"])
    file[picc : picc + 32] = mirrored["picc_data"].encode()
    file[mac : mac + 16] = mirrored["cmac"].encode()
    length = int.from_bytes(file[:2], "big")
    return ndef.message_uri(bytes(file[2 : 2 + length]))


def test_the_nfc_page_lists_the_tags_and_provisions_the_chosen_ones(alice, grinder, grinder_tag):
    client = client_for(alice)
    url = reverse("tag-nfc", args=[grinder.slug])
    page = client.get(url)
    assert page.status_code == 200 and grinder_tag.display_code in page.content.decode()
    response = client.post(url, {"tags": [grinder_tag.pk], "format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json" and response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == f'attachment; filename="thingstead-sun-{grinder.slug}.json"'
    document = json.loads(response.content)
    assert document["format"] == "thingstead-sun-provisioning/1"
    (row,) = document["tags"]
    assert row["code"] == grinder_tag.display_code
    assert row["url"] == f"{grinder_tag.url}?picc_data={'0' * 32}&cmac={'0' * 16}"
    # The keys are the stored ones, sealed at rest (never in the row in the clear).
    keys = SunKeys.objects.get(tag=grinder_tag)
    assert vault.unseal(keys.meta_read_key).hex().upper() == row["key1_sdm_meta_read"]
    assert vault.unseal(keys.file_read_key).hex().upper() == row["key2_sdm_file_read"]
    assert vault.unseal(keys.master_key).hex().upper() == row["key0_app_master"]
    for name in ("key0_app_master", "key1_sdm_meta_read", "key2_sdm_file_read"):
        assert bytes.fromhex(row[name]) not in bytes(keys.master_key) + bytes(keys.meta_read_key)
    assert keys.meta_read_kcv == row["key1_kcv"] == sun.key_check_value(bytes.fromhex(row["key1_sdm_meta_read"]))
    # Shown once: the page afterwards names the state, never a key.
    after = client.get(url).content.decode()
    assert "NTAG 424 DNA keys since" in after
    assert not any(row[name] in after for name in ("key0_app_master", "key1_sdm_meta_read", "key2_sdm_file_read"))
    assert (
        row["key1_sdm_meta_read"]
        not in client.get(reverse("tag-show", args=[grinder.slug, grinder_tag.pk])).content.decode()
    )


def test_a_chip_programmed_from_the_file_gives_genuine_taps(alice, grinder, grinder_tag, anon_client):
    response = client_for(alice).post(
        reverse("tag-nfc", args=[grinder.slug]), {"tags": [grinder_tag.pk], "format": "json"}
    )
    (row,) = json.loads(response.content)["tags"]
    tap = chip_tap(row, counter=1)
    assert tap.startswith(grinder_tag.url + "?picc_data=")
    path = tap.removeprefix(grinder_tag.url.removesuffix(grinder_tag.get_absolute_url()))
    assert 'data-testid="genuine-tag"' in anon_client.get(path).content.decode()
    assert 'data-testid="genuine-tag"' not in anon_client.get(path).content.decode()  # the same tap again


def test_the_sdm_settings_match_the_app_notes_layout(grinder_tag):
    settings = nfc_provision.chip_settings(grinder_tag.url)
    file = settings.ndef_file
    # NLEN, then a short URI record (D1 01 <len> 'U' <prefix>: 04 is "https://", 03 "http://"), as in AN12196.
    prefix = b"\x04" if grinder_tag.url.startswith("https://") else b"\x03"
    assert file[2:4] == b"\xd1\x01" and file[5:7] == b"U" + prefix
    assert file[settings.picc_data_offset - len("?picc_data=") : settings.picc_data_offset] == b"?picc_data="
    assert file[settings.mac_offset :] == b"0" * 16
    assert settings.mac_input_offset == settings.mac_offset  # no file data: the MAC input is empty
    data = settings.change_file_settings
    assert data[:6].hex().upper() == "4000E0C1F112"  # FileOption, AccessRights, SDMOptions, SDMAccessRights
    assert int.from_bytes(data[6:9], "little") == settings.picc_data_offset
    assert int.from_bytes(data[12:15], "little") == settings.mac_offset
    assert len(file) <= ndef.TYPE4_FILE_BYTES


def test_provisioned_keys_never_show_in_a_repr(grinder_tag):
    (item,) = nfc.sun_provision(tags=[grinder_tag])
    text = repr(item)
    assert not any(key.hex() in text or repr(key) in text for key in (item.meta_read_key, item.file_read_key))


def test_the_an12196_url_layout_gives_its_published_offsets():
    # AN12196's SDM example: https://choose.url.com/ntag424?e=<32>&c=<16>: PICCDataOffset 0x20, SDMMACOffset 0x43.
    file = ndef.type4_file(ndef.uri_message(f"https://choose.url.com/ntag424?e={'0' * 32}&c={'0' * 16}"))
    assert ndef.offset_after(file, "?e=") == 0x20 and ndef.offset_after(file, "&c=") == 0x43


def test_csv_has_the_same_content_one_row_per_chip(alice, grinder):
    tags = [tag_create(twin=grinder, label=label) for label in ("lid", "=HYPERLINK(1)")]
    response = client_for(alice).post(
        reverse("tag-nfc", args=[grinder.slug]), {"tags": [t.pk for t in tags], "format": "csv"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["code"] for r in rows] == [t.display_code for t in tags]
    assert rows[1]["label"] == "'=HYPERLINK(1)"  # a spreadsheet does not run it
    assert chip_tap(rows[0], 1).startswith(tags[0].url)


def test_provisioning_again_needs_replace_and_then_resets_the_chip_binding(alice, grinder, grinder_tag):
    client = client_for(alice)
    url = reverse("tag-nfc", args=[grinder.slug])
    first = json.loads(client.post(url, {"tags": [grinder_tag.pk], "format": "json"}).content)["tags"][0]
    SunKeys.objects.filter(tag=grinder_tag).update(last_counter=40, uid="04112233445566")
    refused = client.post(url, {"tags": [grinder_tag.pk], "format": "json"})
    assert refused.status_code == 400 and "have SUN keys already" in refused.content.decode()
    second = json.loads(client.post(url, {"tags": [grinder_tag.pk], "format": "json", "replace": "on"}).content)
    assert second["tags"][0]["key2_sdm_file_read"] != first["key2_sdm_file_read"]
    keys = SunKeys.objects.get(tag=grinder_tag)
    assert (keys.last_counter, keys.uid) == (-1, "")


@pytest.mark.parametrize(
    ("data", "message"),
    [({"format": "json"}, "Choose at least one tag."), ({"tags": ["999999"], "format": "json"}, "not one of")],
)
def test_bad_choices_get_400_with_a_message_and_no_keys(alice, grinder, grinder_tag, data, message):
    response = client_for(alice).post(reverse("tag-nfc", args=[grinder.slug]), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not SunKeys.objects.exists()


def test_a_strangers_post_provisions_nothing(carol, grinder, grinder_tag):
    response = client_for(carol).post(reverse("tag-nfc", args=[grinder.slug]), {"tags": [grinder_tag.pk]})
    assert response.status_code == 404 and not SunKeys.objects.exists()


def test_retired_tags_are_not_offered_nor_provisioned(alice, grinder, grinder_tag):
    tag_retire(tag=grinder_tag)
    response = client_for(alice).post(reverse("tag-nfc", args=[grinder.slug]), {"tags": [grinder_tag.pk]})
    assert response.status_code == 400 and not SunKeys.objects.exists()
    with pytest.raises(Exception, match="retired"):
        nfc.sun_provision(tags=[Tag.objects.get(pk=grinder_tag.pk)])


def test_the_command_provisions_a_pre_printed_batch_into_a_private_file(tmp_path):
    tags = tag_batch_create(count=3, batch="fair-2026")
    output = tmp_path / "keys.json"
    call_command("sun_provision", "--batch", "fair-2026", "--output", str(output))
    assert stat.S_IMODE(os.stat(output).st_mode) == 0o600
    rows = json.loads(output.read_text())["tags"]
    assert [r["code"] for r in rows] == [t.display_code for t in tags]
    assert SunKeys.objects.filter(tag__in=tags).count() == 3
    assert len({r["key1_sdm_meta_read"] for r in rows} | {r["key2_sdm_file_read"] for r in rows}) == 6
    with pytest.raises(CommandError, match="never overwritten"):
        call_command("sun_provision", "--batch", "fair-2026", "--output", str(output), "--replace")
    with pytest.raises(CommandError, match="have SUN keys already"):
        call_command("sun_provision", "--batch", "fair-2026", "--output", str(tmp_path / "again.csv"))
    assert not (tmp_path / "again.csv").exists()  # no half-written file
    call_command("sun_provision", "--batch", "fair-2026", "--output", str(tmp_path / "again.csv"), "--replace")
    assert len(list(csv.DictReader((tmp_path / "again.csv").open()))) == 3


def test_the_command_refuses_an_empty_selection(tmp_path, grinder, grinder_tag):
    with pytest.raises(CommandError, match="No tags to provision"):
        call_command("sun_provision", "--batch", "nope", "--output", str(tmp_path / "k.json"))
    assert not (tmp_path / "k.json").exists()
    # A slug may start with "-" (random URL-safe characters: one in 32 or so), which argparse takes for an option
    # after a space (CI failed on it once): --thing=<slug>, as the command's help says.
    grinder.slug = "-" + grinder.slug[1:]
    grinder.save(update_fields=["slug"])
    call_command("sun_provision", f"--thing={grinder.slug}", "--output", str(tmp_path / "k.json"))
    assert json.loads((tmp_path / "k.json").read_text())["tags"][0]["code"] == grinder_tag.display_code
