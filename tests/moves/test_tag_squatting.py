"""Tags are printed on the thing, so a hostile host can put someone else's tag tokens and codes into a package of
a made-up twin (review finding 15). The rule (tags.portability._refuse_taken): first come, never taken over. A
tag this host has stays on its thing, and a package that brings it is refused with the tag named. A thing coming
back to a host it left takes back its own tags (its copy gives way first: tests/moves/
test_return_keeps_others_records.py). The honest move to a host that has none of its tags: tests/moves/
test_parts_tags.py."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import copy as deep

import pytest

from tags.models import Tag
from tags.portability import export
from tests.moves.test_parts_harness import mover, on_a, release  # noqa: F401 (fixtures)
from tests.moves.test_parts_tags import tagged  # noqa: F401 (fixture)
from twins import services as twin_services
from twins.models import Twin
from twins.portability import PackageError

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags"), pytest.mark.usefixtures("on_a")]


def _bringing(tags_data: dict):
    """A tamper that makes the package bring these tags (a hostile host writes what it likes)."""

    def tamper(package: dict) -> None:
        package["parts"]["tags"] = deep.deepcopy(tags_data)

    return tamper


def _stolen(grinder: Twin) -> dict:
    """The grinder's tags as a squatter would forge them: tokens and codes (printed), no NFC keys."""
    data = export(grinder)
    for item in data["tags"]:
        item["sun"] = None
    return {"tags": data["tags"], "scans": [], "nfc_setting": None}


def test_a_package_bringing_another_things_tags_is_refused_naming_them(mover, tagged, carol, bob, anon_client):
    grinder, sticker, _, _ = tagged
    counterfeit = twin_services.twin_create(owner=carol, name="Counterfeit grinder")
    slug = counterfeit.slug
    with pytest.raises(PackageError) as caught:
        mover(counterfeit, to_owner=bob, tamper=_bringing(_stolen(grinder)))
    assert sticker.display_code in str(caught.value) and "already on another thing" in str(caught.value)
    assert not Twin.objects.filter(slug=slug).exists()  # nothing written
    assert Tag.objects.get(token=sticker.token).twin_id == grinder.pk
    assert grinder.name in anon_client.get(sticker.get_absolute_url()).content.decode()


def test_a_code_alone_is_enough_to_refuse(mover, tagged, carol, bob):
    """A fresh token with a code printed on another thing: the code a finder types would be the squatter's."""
    grinder, sticker, _, _ = tagged
    forged = _stolen(grinder)
    forged["tags"] = [{**forged["tags"][0], "token": "x" * 43, "code": sticker.code}]
    with pytest.raises(PackageError, match=sticker.display_code):
        mover(twin_services.twin_create(owner=carol, name="Counterfeit"), to_owner=bob, tamper=_bringing(forged))
    assert list(Tag.objects.filter(code=sticker.code).values_list("twin_id", flat=True)) == [grinder.pk]


def test_the_tags_of_a_thing_that_moved_away_are_not_taken_by_a_squatter(mover, tagged, carol, bob):
    grinder, sticker, _, _ = tagged
    stolen = _stolen(grinder)
    release(grinder, to=bob)  # its copy keeps its tags here, answering them with a 308
    with pytest.raises(PackageError, match=sticker.display_code):
        mover(twin_services.twin_create(owner=carol, name="Counterfeit"), to_owner=bob, tamper=_bringing(stolen))
    assert Tag.objects.get(token=sticker.token).twin_id == grinder.pk


def test_a_squatter_that_came_first_blocks_the_real_things_arrival_in_words_and_keeps_nothing_of_it(
    mover, tagged, carol, bob
):
    """The rule's cost: first come. The real thing's move is refused with its tag named (never a silent takeover
    nor a server error); what to do about the squatter is the host's administrators' call."""
    grinder, sticker, _, _ = tagged
    stolen = _stolen(grinder)
    real = export(grinder)
    Tag.objects.filter(twin=grinder).delete()  # the real thing's tags are not on this host (it lives elsewhere)
    _, squatter = mover(
        twin_services.twin_create(owner=carol, name="Counterfeit"), to_owner=carol, tamper=_bringing(stolen)
    )
    slug = grinder.slug
    with pytest.raises(PackageError, match=sticker.display_code):
        mover(grinder, to_owner=bob, tamper=_bringing(real))
    assert not Twin.objects.filter(slug=slug).exists()
    assert Tag.objects.get(token=sticker.token).twin_id == squatter.pk


def test_a_package_naming_one_tag_twice_is_refused_in_words(mover, tagged, carol, bob):
    grinder, _, _, _ = tagged
    forged = _stolen(grinder)
    Tag.objects.filter(twin=grinder).delete()
    forged["tags"] = [forged["tags"][0], dict(forged["tags"][0])]
    with pytest.raises(PackageError, match="one tag twice"):
        mover(twin_services.twin_create(owner=carol, name="Counterfeit"), to_owner=bob, tamper=_bringing(forged))
