"""A package whose feature part is not in the form its module writes (a source with other code, a bug, an
attacker holding the destination's key) is refused with PackageError in words: never a server error, nothing
written."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import pytest
from django.apps import apps

from tests.moves.test_parts_harness import mover, on_a  # noqa: F401 (fixtures)
from twins import services as twin_services
from twins.models import Twin
from twins.portability import PackageError

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_a")]

PARTS = [
    "tags",
    "sharing",
    "credentials",
    "support",
    "inventory",
    "upkeep",
    "firmware",
    "makers",
    "ingest",
    "fleets",
    "imports",
]
GARBAGE = [
    [1, 2],
    "text",
    {"tags": [{"token": 5}], "grants": [{}], "status_list": {"bits": "!!"}, "purchase": {"price": "a lot"}},
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=["list", "text", "wrong-shapes"])
@pytest.mark.parametrize("part", PARTS)
def test_a_malformed_part_is_refused_in_words_and_nothing_is_written(mover, alice, bob, part, garbage):
    if not apps.is_installed(part):
        pytest.skip(f"the {part} app is left out here")
    twin = twin_services.twin_create(owner=alice, name="Kettle")
    slug = twin.slug

    def tamper(package):
        package["parts"][part] = garbage

    if isinstance(garbage, dict):  # keys a part does not know are ignored; those it knows must hold what it wrote
        try:
            mover(twin, to_owner=bob, tamper=tamper)
        except PackageError as refused:
            assert str(refused)
            assert not Twin.objects.filter(slug=slug).exists()
        return
    with pytest.raises(PackageError) as refused:
        mover(twin, to_owner=bob, tamper=tamper)
    assert str(refused.value)
    assert not Twin.objects.filter(slug=slug).exists()
