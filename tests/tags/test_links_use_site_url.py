"""Printed links carry SITE_URL as configured (core.address: `make run` sets it to where the server is reachable),
never the development default."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_label_sheet_and_qr_carry_the_configured_site_url(settings, alice_client, grinder_tag):
    settings.SITE_URL = "http://192.168.1.23:8200"
    page = alice_client.get(reverse("tag-labels", args=[grinder_tag.twin.slug])).content.decode()
    assert "type the code at 192.168.1.23:8200/t/" in page
    assert "thingstead.localhost" not in page
    assert grinder_tag.url.startswith("http://192.168.1.23:8200/t/")
