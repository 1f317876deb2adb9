"""An owner who scans their own lost thing has found it: the scan page offers to end lost mode in one tap."""

import pytest
from django.urls import reverse

from twins import services

pytestmark = pytest.mark.django_db


def test_owner_scanning_their_lost_thing_gets_found_it_and_one_tap_turns_lost_mode_off(alice_client, grinder_tag):
    twin = grinder_tag.twin
    services.twin_set_lost(twin=twin, lost=True, reward="Coffee")
    page = alice_client.get(grinder_tag.get_absolute_url()).content.decode()
    assert "Found it: turn lost mode off" in page
    action = reverse("thing-lost", args=[twin.slug])
    assert f'action="{action}"' in page
    response = alice_client.post(action, {})
    assert response.status_code == 302
    twin.refresh_from_db()
    assert twin.lost is False


def test_owner_scanning_a_thing_not_lost_sees_no_found_it(alice_client, grinder_tag):
    page = alice_client.get(grinder_tag.get_absolute_url()).content.decode()
    assert "Found it" not in page
