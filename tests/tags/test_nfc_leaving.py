"""No SUN keys are made for a tag of a thing on its way to another host (twins.leaving, issue 18): the package was
built at the move's confirmation, so a chip programmed with keys made now would fail on the new host."""

from __future__ import annotations

import pytest

from tags import nfc
from tags.models import SunKeys, Tag
from twins import leaving
from twins.models import Twin

pytestmark = pytest.mark.django_db


def test_no_sun_keys_for_a_leaving_things_tag_and_after_a_thaw_there_are(grinder_tag):
    blank = Tag.objects.create(twin=None, status=Tag.Status.UNASSIGNED)
    Twin.objects.filter(pk=grinder_tag.twin_id).update(leaving_to="https://things.example.net")
    with pytest.raises(leaving.TwinLeaving):
        nfc.sun_provision(tags=[blank, grinder_tag])
    assert not SunKeys.objects.exists()
    assert len(nfc.sun_provision(tags=[blank])) == 1  # a tag of no thing: nothing is leaving
    leaving.thaw(grinder_tag.twin_id)
    assert len(nfc.sun_provision(tags=[grinder_tag])) == 1
