"""A finder's message in the owner's inbox (issue 14, finding 7): one tap to reply with what the finder gave, and
it stays above the scan notice that every later scan moves to the top."""

from __future__ import annotations

import pytest
from django.urls import reverse

from owners import services
from owners.replies import reply_links

pytestmark = pytest.mark.django_db


def test_an_email_gets_a_mailto_reply_with_a_subject():
    assert reply_links("finder@example.org", subject="Re: Coffee grinder") == [
        ("Reply by email", "mailto:finder@example.org?subject=Re%3A%20Coffee%20grinder")
    ]


def test_a_phone_number_gets_call_and_text_links_with_only_digits():
    assert reply_links("+44 (0)20 7946-0958", subject="x") == [
        ("Call", "tel:+4402079460958"),
        ("Send a text", "sms:+4402079460958"),
    ]


@pytest.mark.parametrize("contact", ["", "not an address", "bob@", "12", "javascript:alert(1)"])
def test_anything_else_gets_no_link(contact):
    assert reply_links(contact, subject="x") == []


def _finder_message(alice, grinder, contact: str):
    return services.notify(
        owner=alice,
        kind="message",
        title="Message about Coffee grinder",
        body="Found it on the bus",
        twin=grinder,
        sender_name="Sam",
        sender_contact=contact,
    )


def test_a_finders_message_has_a_reply_link_in_the_inbox_and_on_its_page(alice_client, alice, grinder):
    item = _finder_message(alice, grinder, "sam@example.org")
    listing = alice_client.get(reverse("inbox")).content.decode()
    assert 'href="mailto:sam@example.org?subject=' in listing
    page = alice_client.get(reverse("inbox-item", args=[item.pk])).content.decode()
    assert 'href="mailto:sam@example.org?subject=Re%3A%20Message%20about%20Coffee%20grinder"' in page


def test_a_finders_message_without_contact_says_no_reply_is_possible(alice_client, alice, grinder):
    item = _finder_message(alice, grinder, "")
    page = alice_client.get(reverse("inbox-item", args=[item.pk])).content.decode()
    assert "mailto:" not in page and "you cannot reply" in page


def test_an_unread_finders_message_stays_above_the_scan_notices_that_came_after(alice_client, alice, grinder):
    services.notify_scan(twin=grinder)
    message = _finder_message(alice, grinder, "+44 20 7946 0958")
    for _ in range(3):  # later scans bump the coalesced notice's time
        services.notify_scan(twin=grinder)
    listing = alice_client.get(reverse("inbox")).content.decode()
    assert listing.index("Found it on the bus") < listing.index("scanned")
    assert 'href="tel:+442079460958"' in listing
    # Once read, it takes its place by time again.
    alice_client.get(reverse("inbox-item", args=[message.pk]))
    listing = alice_client.get(reverse("inbox")).content.decode()
    assert listing.index("scanned") < listing.index("Found it on the bus")
