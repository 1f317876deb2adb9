import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from owners import services
from owners.models import Notification

pytestmark = pytest.mark.django_db


def test_contact_card_is_saved_with_its_switches(alice_client, alice):
    response = alice_client.post(
        reverse("profile"),
        {"contact_name": "Alice A.", "show_name": "on", "contact_email": "a@example.org", "contact_message": "Hi"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.public_contact() == {"name": "Alice A."}


def test_contact_card_rejects_a_bad_email_and_keeps_the_old_card(alice_client, alice):
    response = alice_client.post(reverse("profile"), {"contact_email": "not an email", "show_email": "on"})
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.contact_email == "" and alice.show_email is False


def test_api_token_is_replaced_on_request(alice_client, alice):
    alice_client.post(reverse("api-token"))
    first = Token.objects.get(user=alice).key
    alice_client.post(reverse("api-token"))
    assert Token.objects.get(user=alice).key != first


def test_unread_count_shows_in_header_and_clears_when_read(alice_client, alice, grinder):
    item = services.notify(owner=alice, kind="message", title="Message about Coffee grinder", twin=grinder)
    page = alice_client.get(reverse("things")).content.decode()
    assert 'data-testid="unread-count">1<' in page
    alice_client.get(reverse("inbox-item", args=[item.pk]))
    page = alice_client.get(reverse("things")).content.decode()
    assert 'data-testid="unread-count"' not in page


def test_mark_all_read_clears_only_own_inbox(alice_client, alice, bob):
    services.notify(owner=alice, kind="system", title="one")
    services.notify(owner=bob, kind="system", title="two")
    alice_client.post(reverse("inbox-read-all"))
    assert Notification.objects.filter(owner=alice, read_at__isnull=True).count() == 0
    assert Notification.objects.filter(owner=bob, read_at__isnull=True).count() == 1


def test_scan_notifications_coalesce_within_the_window(grinder):
    for _ in range(10):
        services.notify_scan(twin=grinder)
    items = Notification.objects.filter(twin=grinder, kind="scan")
    assert items.count() == 1
    assert items.get().count == 10


def test_scan_notification_after_reading_starts_a_new_item(grinder, alice):
    first = services.notify_scan(twin=grinder)
    services.notification_mark_read(owner=alice, ids=[first])
    second = services.notify_scan(twin=grinder)
    assert second != first


def test_message_email_is_sent_after_commit(alice, grinder, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(owner=alice, kind="message", title="Message about Coffee grinder", body="Found it", email=True)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.org"]
    assert "Found it" in mailoutbox[0].body
