"""Review finding 4, ingest's part (issue 18): once every thing a source feeds has moved away, the old host forgets
the source's webhook secret in the release's transaction (the new host trusts the same one: kept here, whoever later
reads this database could sign readings the new host stores). Its senders still find the new host: every hook
answers such a source with a 308 before verifying the message. A source that still feeds a thing here keeps it."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client, TestCase

from ingest import services as ingest_services
from ingest.models import Source
from ingest.receive import Incoming, receive_many
from ssi import webhooks
from tests.ingest.conftest import Sender
from tests.moves.test_parts_harness import B_URL, on_a, release  # noqa: F401 (fixture)
from twins import services as twin_services
from twins.models import Reading

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_a")]


@pytest.fixture
def fed(alice):
    """Made on "A" (on_a first: the twin's DID names A's domain): alice's grinder fed by her source."""
    grinder = twin_services.twin_create(owner=alice, name="Coffee grinder", reading_kind="grind")
    source, secret = ingest_services.source_create(owner=alice, name="Acme cloud")
    ingest_services.source_link_thing(source=source, twin=grinder, external_id="acme-grinder-7")
    return grinder, source, secret


def test_a_source_whose_every_thing_moved_away_forgets_its_secret_and_its_hooks_still_send_senders_on(fed, bob):
    grinder, source, secret = fed
    source, _ = ingest_services.source_rotate_secret(source=source, overlap=ingest_services.MAX_OVERLAP)
    assert len(source.secrets()) == 2  # a previous secret in its overlap: forgotten too

    with TestCase.captureOnCommitCallbacks(execute=True):
        release(grinder, to=bob)

    here = Source.objects.get(pk=source.pk)
    assert secret not in here.secrets() and len(here.secrets()) == 1
    assert here.previous_secret_sealed is None and here.previous_valid_until is None
    # Signed with the secret the sender has: both hooks answer before verifying.
    response = Sender(client=Client(), source=here, secret=secret).post({"value": 9})
    assert response.status_code == 308 and response["Location"] == f"{B_URL}/hooks/{source.public_id}"
    body = json.dumps({"value": 9}).encode()
    headers = webhooks.headers_for(secret, "via-gateway", int(time.time()), body)
    (answer,) = receive_many([Incoming(source.public_id, headers, body, time.time())])
    assert (answer.status, answer.location) == (308, f"{B_URL}/hooks/{source.public_id}")
    assert not Reading.objects.exists()


def test_a_source_that_still_feeds_a_thing_here_keeps_its_secret(fed, alice, bob):
    grinder, source, secret = fed
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp")
    ingest_services.source_link_thing(source=source, twin=kettle, external_id="kettle")

    with TestCase.captureOnCommitCallbacks(execute=True):
        release(grinder, to=bob)

    assert Source.objects.get(pk=source.pk).secrets() == [secret]
    response = Sender(client=Client(), source=source, secret=secret).post({"thing": "kettle", "value": 90})
    assert response.status_code == 200 and response.json()["stored"] == 1
