"""The tags part of a move against a hostile source (issue 18's security review): nothing about a SUN key is taken
on the package's word. Check values are computed here from the keys, weak keys refuse the package (SECURITY 18),
tokens and codes must have the form tags makes; and the NFC state a tap's verdict depends on survives the trip."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import base64

import pytest

from core import vault
from tags import nfc, sun
from tags.models import NfcSetting, SunKeys, Tag
from tests.moves.test_parts_harness import mover, on_a  # noqa: F401 (fixtures)
from tests.moves.test_parts_tags import tagged  # noqa: F401 (fixture)
from twins.models import Twin
from twins.portability import PackageError

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags"), pytest.mark.usefixtures("on_a")]

WEAK_KCV = sun.key_check_value(bytes(16))  # the all-zero factory key's
ZERO = base64.b64encode(bytes(16)).decode()


def _chips(package: dict) -> list[dict]:
    return [item["sun"] for item in package["parts"]["tags"]["tags"] if item["sun"]]


def _refused(mover, twin, bob, tamper) -> str:
    slug = twin.slug
    with pytest.raises(PackageError) as caught:
        mover(twin, to_owner=bob, tamper=tamper)
    assert not Twin.objects.filter(slug=slug).exists()  # nothing written
    return str(caught.value)


def test_a_weak_check_value_in_the_package_is_recomputed_from_the_strong_key(mover, tagged, bob):
    grinder, _, chip_tag, chip = tagged
    token = chip_tag.token

    def weak_kcvs(package: dict) -> None:
        for item in _chips(package):
            item["meta_read_kcv"] = item["file_read_kcv"] = WEAK_KCV
            if item["previous_meta_read_key"]:
                item["previous_meta_read_kcv"] = item["previous_file_read_kcv"] = WEAK_KCV

    mover(grinder, to_owner=bob, tamper=weak_kcvs)
    keys = SunKeys.objects.get(tag__token=token)
    assert keys.meta_read_kcv == sun.key_check_value(chip.meta_read_key)
    assert keys.file_read_kcv == sun.key_check_value(chip.file_read_key)
    assert nfc.weak_sun_keys() == []  # so the next production start is not refused over these tags


def test_weak_keys_with_a_made_up_strong_check_value_refuse_the_package(mover, tagged, bob):
    def zero_keys(package: dict) -> None:
        chip = _chips(package)[0]
        chip["meta_read_key"] = chip["file_read_key"] = ZERO  # the KCVs still say the strong keys'

    assert "factory" in _refused(mover, tagged[0], bob, zero_keys)


def test_weak_previous_keys_refuse_the_package(mover, tagged, bob):
    def zero_previous(package: dict) -> None:
        spare = next(item for item in _chips(package) if item["previous_meta_read_key"])
        spare["previous_file_read_key"] = base64.b64encode(b"\x2a" * 16).decode()  # one repeated byte

    assert "factory" in _refused(mover, tagged[0], bob, zero_previous)


def test_a_weak_master_key_refuses_the_package(mover, tagged, bob):
    def zero_master(package: dict) -> None:
        _chips(package)[0]["master_key"] = ZERO

    assert "factory" in _refused(mover, tagged[0], bob, zero_master)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", "zzzzzzzz"),  # lower case: tags.codes writes upper case
        ("code", "ABCD-EFG"),
        ("code", "ABCDEFGI"),  # I is not Crockford base32
        ("code", "ABCDEFGHJ"),
        ("token", "short"),
        ("token", "a" * 42 + "/"),
        ("status", "stolen"),
    ],
)
def test_a_tag_id_tags_never_makes_refuses_the_package(mover, tagged, bob, field, value):
    def bad(package: dict) -> None:
        package["parts"]["tags"]["tags"][0][field] = value

    _refused(mover, tagged[0], bob, bad)


def test_the_nfc_state_survives_the_trip(mover, tagged, bob):
    """known_to_previous_owner, a pending replacement (its previous keys sealed again here, its KCVs, UID and
    counter, replaced_at) and the owner's NFC setting."""
    grinder, _, chip_tag, _ = tagged
    spare_tag = Tag.objects.get(twin=grinder, label__startswith="spare")
    SunKeys.objects.filter(tag=chip_tag).update(known_to_previous_owner=True)
    SunKeys.objects.filter(tag=spare_tag).update(previous_uid="04A1B2C3D4E5F6", previous_last_counter=12)
    before = {keys.tag.token: keys for keys in SunKeys.objects.select_related("tag").filter(tag__twin=grinder)}
    spare_before = before[spare_tag.token]
    assert spare_before.replaced_at is not None
    previous = [vault.unseal(spare_before.previous_meta_read_key), vault.unseal(spare_before.previous_file_read_key)]
    mover(grinder, to_owner=bob)
    chip_after = SunKeys.objects.get(tag__token=chip_tag.token)
    assert chip_after.known_to_previous_owner and not chip_after.trusted
    spare = SunKeys.objects.get(tag__token=spare_tag.token)
    assert spare.replacement_pending and spare.replaced_at == spare_before.replaced_at
    assert [vault.unseal(spare.previous_meta_read_key), vault.unseal(spare.previous_file_read_key)] == previous
    assert spare.previous_meta_read_kcv == spare_before.previous_meta_read_kcv == sun.key_check_value(previous[0])
    assert spare.previous_file_read_kcv == sun.key_check_value(previous[1])
    assert (spare.previous_uid, spare.previous_last_counter) == ("04A1B2C3D4E5F6", 12)
    assert spare.previous_known_to_previous_owner == spare_before.previous_known_to_previous_owner
    moved = Twin.objects.get(slug=grinder.slug)
    assert NfcSetting.objects.get(twin=moved).genuine_tap_for_readings is True
