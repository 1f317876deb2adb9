"""Tapping a tag's QR thumbnail shows the tag (its QR code large, the URL it carries, the code to type) instead of
downloading an SVG file, and the thing's page shows each tag's URL (issue 14, finding 8)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_the_thumbnail_opens_a_page_showing_the_code_and_its_url(alice_client, grinder_tag):
    thing_page = alice_client.get(reverse("thing", args=[grinder_tag.twin.slug])).content.decode()
    show = reverse("tag-show", args=[grinder_tag.twin.slug, grinder_tag.pk])
    assert f'<a class="qr" href="{show}"' in thing_page
    assert grinder_tag.url in thing_page  # the URL is shown beside each tag

    response = alice_client.get(show)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response
    page = response.content.decode()
    assert "<svg" in page and "<path" in page  # the code itself, inline
    assert f'value="{grinder_tag.url}"' in page
    assert grinder_tag.display_code in page
    assert reverse("tag-qr-svg", args=[grinder_tag.twin.slug, grinder_tag.pk]) in page  # still downloadable


def test_someone_elses_tag_page_is_a_404(carol, grinder_tag):
    response = client_for(carol).get(reverse("tag-show", args=[grinder_tag.twin.slug, grinder_tag.pk]))
    assert response.status_code == 404
    assert grinder_tag.token not in response.content.decode()
