"""Support's actors: Acme (dora admin, erin member) and its grinder model (tests/makers/conftest.py), olga who
owns a Grindmaster whose agent is connected to Acme's, and pump(), which carries queued messages between the
agents of this instance as real RFC 0019 envelopes (only the HTTP hop is left out)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from didcomm import outbox, services
from didcomm.models import Connection, OutboundMessage
from didcomm.tasks import receive
from didcomm.transport import pack_outbound
from tests.conftest import make_owner
from tests.makers.conftest import acme, acme_model, dora, erin, organisation_make  # noqa: F401 (shared fixtures)
from tests.makers.test_recalls import produce
from twins import services as twin_services


def pump(limit: int = 50) -> int:
    """Deliver every queued message to its recipient on this instance, answers included, until none is left."""
    delivered = 0
    while delivered < limit:
        queued = OutboundMessage.objects.filter(status=OutboundMessage.Status.QUEUED).order_by("id").first()
        if queued is None:
            return delivered
        raw = pack_outbound(queued)
        OutboundMessage.objects.filter(pk=queued.pk).update(status=OutboundMessage.Status.SENT, sent_at=timezone.now())
        receive(raw=raw)
        delivered += 1
    raise AssertionError("messages keep coming")


def png(color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(autouse=True)
def _no_network(settings):
    # Deliveries the worker would start (on commit) go nowhere: pump() carries the messages instead.
    settings.SITE_URL = "http://127.0.0.1:9"


@pytest.fixture
def olga(db):
    owner = make_owner("olga")
    owner.email = "olga@example.org"
    owner.save(update_fields=["email"])
    return owner


@pytest.fixture
def grindmaster(acme_model, olga):  # noqa: F811 (the shared fixture, by name)
    """Olga's Grindmaster: readings of two kinds, a journal entry, a photo, a firmware attribute."""
    twin = produce(acme_model, "GM-0042", olga)
    twin.attributes = {"Firmware": "2.4.1"}
    twin.save(update_fields=["attributes"])
    twin_services.twin_set_photo(twin=twin, photo=SimpleUploadedFile("p.png", png()))
    for value in (18.0, 18.5):
        twin_services.reading_add(twin=twin, value=value, kind="grams", unit="g")
    twin_services.reading_add(twin=twin, value=61.0, kind="temperature", unit="°C")
    twin_services.note_create(twin=twin, title="Burr cleaned", text="Cleaned with rice tablets.")
    twin_services.note_create(twin=twin, title="Private trip", text="Took it camping.")
    return twin


@pytest.fixture
def link(acme, grindmaster):  # noqa: F811 (the shared fixture, by name)
    """The Grindmaster's agent connected to Acme's (the thing's connection to its maker): (thing side, Acme side)."""
    org_side = outbox.invitation_create(agent=services.agent_for_owner(acme.account))
    thing_side = services.agent_invitation_accept(
        owner=grindmaster.owner, invitation_url=org_side.invitation_url, twin=grindmaster
    )
    pump()
    org_side.refresh_from_db()
    thing_side.refresh_from_db()
    assert (org_side.state, thing_side.state) == (Connection.State.COMPLETED, Connection.State.COMPLETED)
    return thing_side, org_side
