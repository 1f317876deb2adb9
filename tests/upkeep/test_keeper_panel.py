"""A keeper who may open a thing's page sees its maintenance panel there (upkeep registers it with
needs=VIEW), and nothing of the owner's own panels: purchase and warranty, attachments, tags, sharing. A stranger
gets 404. Before panels declared what they need, the private page showed features' panels to the owner only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import client_for
from tests.upkeep.conftest import make_keeper
from twins import access
from upkeep import maintenance, warranty

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept_grinder(grinder, bob):
    maintenance.schedule_create(
        twin=grinder, name="Descale", every=3, unit="months", last_done=timezone.localdate() - timedelta(days=10)
    )
    warranty.purchase_set(
        twin=grinder, bought_from="Kitchen Shop", warranty_ends=timezone.localdate() + timedelta(days=300)
    )
    return grinder


def test_keeper_sees_the_maintenance_panel_but_not_the_purchase_or_attachments(kept_grinder, bob):
    make_keeper(kept_grinder, bob, [access.VIEW])
    page = client_for(bob).get(f"/things/{kept_grinder.slug}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="upkeep-maintenance"' in html and "Descale" in html
    assert "upkeep-purchase" not in html and "Kitchen Shop" not in html and "/attachments/" not in html
    # The owner's feature links (keepers, sharing, connections) stay the owner's.
    assert f"/things/{kept_grinder.slug}/keepers/" not in html


def test_keeper_without_journal_write_sees_no_done_button(kept_grinder, bob):
    make_keeper(kept_grinder, bob, [access.VIEW])
    html = client_for(bob).get(f"/things/{kept_grinder.slug}/").content.decode()
    assert "Done today" not in html and "Delete the schedule" not in html


def test_owner_still_sees_every_panel(alice_client, kept_grinder):
    html = alice_client.get(f"/things/{kept_grinder.slug}/").content.decode()
    assert 'data-testid="upkeep-maintenance"' in html and "Kitchen Shop" in html and "/attachments/" in html


def test_stranger_gets_404_and_no_panel(kept_grinder, carol_client):
    response = carol_client.get(f"/things/{kept_grinder.slug}/")
    assert response.status_code == 404 and b"Descale" not in response.content
