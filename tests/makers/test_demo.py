"""load_demo's makers part: the demo owner runs a manufacturer with boxed, unclaimed things, made once."""

import pytest
from django.core.management import call_command

from makers.models import Membership, ProducedThing
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_the_demo_owner_runs_a_manufacturer_with_unclaimed_things_made_once(settings, tmp_path):
    settings.LOCAL_DIR = tmp_path
    call_command("load_demo")
    call_command("load_demo")
    membership = Membership.objects.select_related("organisation", "owner").get(owner__username="demo")
    assert membership.role == Membership.Role.ADMIN
    produced = ProducedThing.objects.filter(model__organisation=membership.organisation)
    assert sorted(produced.values_list("serial", flat=True)) == ["DEMO-0001", "DEMO-0002", "DEMO-0003"]
    assert not produced.filter(claimed_at__isnull=False).exists()
    demo = client_for(membership.owner)
    assert demo.get(f"/orgs/{membership.organisation.slug}/dashboard").status_code == 200
    # The GS1 Digital Link of a boxed thing opens its public page, with the claim offer.
    page = client_for(membership.owner).get("/01/09506000134352/21/DEMO-0001", follow=True)
    assert page.status_code == 200
