"""Labels are words, never emoji or internal codes: a twin's icon choices in the admin and the API (an emoji
renders as an empty box where no emoji font is installed), and what the seller's transfer page says the sale
will remove (it listed the history kinds' codes: "note, scan")."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import client_for
from tests.core.test_icons import EMOJI
from twins import services
from twins.models import Twin
from twins.transfer import offer_create

pytestmark = pytest.mark.django_db


def test_twin_icon_choices_are_words():
    labels = [label for _, label in Twin._meta.get_field("icon").choices]
    assert "Coffee" in labels and "Thing" in labels
    assert not EMOJI.findall(" ".join(labels))


def test_the_admin_shows_twin_icons_in_words(grinder, django_user_model):
    admin = django_user_model.objects.create_superuser("root-admin", "root@example.org", "x-long-password-1")
    client = client_for(admin)
    for url in (reverse("admin:twins_twin_changelist"), reverse("admin:twins_twin_change", args=[grinder.pk])):
        page = client.get(url).content.decode()
        assert not EMOJI.findall(page), (url, EMOJI.findall(page))
    assert ">Coffee</option>" in client.get(reverse("admin:twins_twin_change", args=[grinder.pk])).content.decode()


def test_seller_transfer_page_names_what_the_sale_removes_in_words(grinder, alice):
    offer_create(twin=grinder, seller=alice, redact_kinds=["note", "scan"])
    page = client_for(alice).get(reverse("thing-transfer", args=[grinder.slug])).content.decode()
    removes = page[page.index('data-testid="offer-removes"') :]
    removes = removes[: removes.index("</div>")]
    assert "<li>Journal notes</li>" in removes and "Scans of its tags" in removes
    assert "note, scan" not in page and "Readings" not in removes


def test_seller_transfer_page_counts_the_history_by_kind_in_words(grinder, alice):
    services.note_create(twin=grinder, title="Descaled")
    page = client_for(alice).get(reverse("thing-transfer", args=[grinder.slug])).content.decode()
    history = page[page.index("History now:") :]
    history = history[: history.index("</p>")]
    assert "journal note: 1" in history and "1 note" not in history
