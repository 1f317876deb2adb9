"""An owner's own time zone (issue 14 leftovers): chosen on the profile from a list of zone names (anything else
is refused with a message), pre-filled at sign-up from the browser, preferred over the browser's `tz` cookie on
every page, so the very first page after signing in is right, and used for the dates of notification emails."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from owners import services
from owners.models import Notification, Owner
from owners.tasks import send_notification_email
from tests.conftest import PASSWORD, client_for
from twins import services as twin_services

pytestmark = pytest.mark.django_db


def _readings_page(client, twin) -> str:
    return client.get(reverse("readings", args=[twin.slug])).content.decode()


@pytest.fixture
def read_grinder(grinder):
    twin_services.reading_add(twin=grinder, value=5, time=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    return grinder


def test_the_owners_zone_shows_on_the_first_page_without_a_cookie(alice, read_grinder):
    services.owner_set_time_zone(owner=alice, time_zone="Pacific/Auckland")
    page = _readings_page(client_for(alice), read_grinder)
    assert "Times in Pacific/Auckland" in page and "2026-07-02 00:00" in page  # NZST is UTC+12


def test_the_owners_zone_is_preferred_over_the_browsers_cookie(alice, read_grinder):
    services.owner_set_time_zone(owner=alice, time_zone="America/New_York")
    client = client_for(alice)
    client.cookies["tz"] = "Europe/Berlin"
    page = _readings_page(client, read_grinder)
    assert "Times in America/New_York" in page and "2026-07-01 08:00" in page


def test_without_a_zone_of_their_own_the_browsers_cookie_still_counts(alice, read_grinder):
    client = client_for(alice)
    client.cookies["tz"] = "Europe/Berlin"
    assert "Times in Europe/Berlin" in _readings_page(client, read_grinder)


def test_profile_saves_a_zone_from_the_list(alice):
    client = client_for(alice)
    page = client.get(reverse("profile")).content.decode()
    assert '<option value="Europe/Berlin">' in page and 'name="time_zone"' in page
    response = client.post(reverse("profile-time-zone"), {"time_zone": "Europe/Berlin"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.time_zone == "Europe/Berlin"
    client.post(reverse("profile-time-zone"), {"time_zone": ""})
    alice.refresh_from_db()
    assert alice.time_zone == ""


def test_profile_refuses_a_zone_that_is_not_one_with_a_message(alice):
    response = client_for(alice).post(reverse("profile-time-zone"), {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    alice.refresh_from_db()
    assert alice.time_zone == ""


def test_the_service_refuses_an_unknown_zone(alice):
    with pytest.raises(ValidationError) as caught:
        services.owner_set_time_zone(owner=alice, time_zone="Europe/Atlantis")
    assert "time_zone" in caught.value.message_dict
    alice.refresh_from_db()
    assert alice.time_zone == ""


def test_sign_up_pre_fills_the_browsers_zone_and_keeps_it(client):
    client.cookies["tz"] = "Asia/Tokyo"
    page = client.get(reverse("signup")).content.decode()
    assert '<option value="Asia/Tokyo" selected>' in page
    response = client.post(
        reverse("signup"),
        {
            "username": "dora",
            "email": "dora@example.org",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "time_zone": "Asia/Tokyo",
        },
    )
    assert response.status_code == 302
    assert Owner.objects.get(username="dora").time_zone == "Asia/Tokyo"


def test_notification_emails_give_the_time_in_the_owners_zone(alice, mailoutbox):
    services.owner_set_time_zone(owner=alice, time_zone="Asia/Tokyo")
    services.notify(owner=alice, kind="message", title="Message about Coffee grinder", body="Found it", email=True)
    item = Notification.objects.get(owner=alice)
    Notification.objects.filter(pk=item.pk).update(created_at=datetime(2026, 7, 1, 20, 30, tzinfo=UTC))
    Notification.objects.filter(pk=item.pk).update(emailed_at=None)
    mailoutbox.clear()
    send_notification_email.call(item.pk)
    assert "When: 2026-07-02 05:30 Asia/Tokyo" in mailoutbox[0].body
