"""A manufacturer that runs ACA-Py (not Thingstead) receives the notifications an owner permits, as DIDComm
messages, and none after the instant of revocation; a second party without a grant receives nothing.

Everything is the real path: readings stored by twins.services.reading_add, written to the outbox by the grants
part in the reading's transaction, delivered by the ``deliver_item`` task at commit (the inline task backend) over
DID Exchange 1.1 connections with a live ACA-Py 1.7.0.

How we see that ACA-Py received a message: ACA-Py knows no Thingstead message types. For a message it cannot
parse it answers the sender with an RFC 0035 problem report (type ``notification/1.0/problem-report``, code
``message-parse-failure``, "Unrecognized
message type <our @type>") threaded to the message's ``@id`` (acapy_agent/core/dispatcher.py,
``handle_message``). So each delivered notification comes back to our twin's connection as a problem report
whose ``thid`` is the notification's message id: ACA-Py decrypted our envelope and read the ``@type`` and ``@id``
we sent. A trust ping round trip afterwards is the barrier that shows nothing more arrived.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from didcomm import outbox, services
from didcomm.models import InboundMessage
from sharing import grants
from sharing.models import OutboxItem
from sharing.send import NOTIFICATION
from sharing.tasks import deliver_due
from ssi.messages import message_type_uri
from twins import services as twin_services

from . import test_acapy_scenarios as scenarios
from .test_acapy_scenarios import wait_until

live = scenarios.live  # the fixture: our endpoint is the live server, used by one thread at a time

# ACA-Py names RFC 0035 problem reports notification/1.0/problem-report.
PROBLEM_REPORT = "https://didcomm.org/notification/1.0/problem-report"


def _reports(connection) -> dict[str, dict]:
    """ACA-Py's problem reports on our connection, by the message id they answer."""
    rows = InboundMessage.objects.filter(connection=connection, type=PROBLEM_REPORT)
    return {row.body.get("~thread", {}).get("thid"): row.body for row in rows}


def _barrier(acapy, hooks, pair) -> None:
    """A trust ping and its answer: what ACA-Py would have sent back before this, it has sent."""
    ping = outbox.ping_send(connection=pair.refresh())
    responses = InboundMessage.objects.filter(connection=pair.ours, type__endswith="/ping_response")
    assert wait_until(lambda: any(r.body.get("~thread", {}).get("thid") == ping.message_id for r in responses.all()))


@pytest.fixture
def hooks(acapy_webhooks):
    return acapy_webhooks.webhooks


def test_acapy_receives_permitted_notifications_and_none_after_revocation_and_an_ungranted_party_nothing(
    live, alice, grinder, acapy_agent, hooks, settings
):
    settings.SHARING_BATCH_SECONDS = 0  # each reading goes out at once (the batching is tested elsewhere)
    agent = services.agent_for_twin(grinder)
    granted = scenarios.thingstead_invites(acapy_agent, hooks, agent, "1.1")
    ungranted = scenarios.thingstead_invites(acapy_agent, hooks, agent, "1.1")
    grant = grants.grant_create(twin=grinder, party=granted.refresh(), kinds=["readings"], by=alice)

    twin_services.reading_add(twin=grinder, value=7)
    twin_services.reading_add(twin=grinder, value=8)

    sent = list(OutboxItem.objects.filter(grant=grant).order_by("id"))
    assert len(sent) == 2
    ids = {str(item.message_id) for item in sent}
    assert wait_until(lambda: set(_reports(granted.ours)) >= ids), (
        list(OutboxItem.objects.values_list("status", "last_error")),
        acapy_agent.log_tail(),
    )
    for message_id in ids:
        report = _reports(granted.ours)[message_id]
        assert report["description"]["code"] == "message-parse-failure"
        assert message_type_uri(NOTIFICATION) in report["description"]["en"]
    for item in sent:
        item.refresh_from_db()
        assert item.status == OutboxItem.Status.DELIVERED and item.attempts == 1

    # An item still inside its window when the grant is revoked: never sent, whatever the worker does later.
    settings.SHARING_BATCH_SECONDS = 60
    twin_services.reading_add(twin=grinder, value=9)
    waiting = OutboxItem.objects.get(grant=grant, status=OutboxItem.Status.OPEN)
    grants.grant_revoke(grant=grant, by=alice)
    twin_services.reading_add(twin=grinder, value=10)  # after the revocation: nothing is even written
    waiting.refresh_from_db()
    assert waiting.status == OutboxItem.Status.CANCELLED
    assert OutboxItem.objects.filter(grant=grant).count() == 3
    # Later sweeps find nothing to send either (the clock of the worker well past the window).
    OutboxItem.objects.filter(pk=waiting.pk).update(window_ends_at=waiting.window_ends_at - timedelta(minutes=5))
    assert deliver_due() == 0

    _barrier(acapy_agent, hooks, granted)
    _barrier(acapy_agent, hooks, ungranted)
    assert set(_reports(granted.ours)) == ids  # nothing after the revocation
    # The party without a grant: no item was ever written for it, and ACA-Py answered nothing on that connection.
    assert not OutboxItem.objects.filter(grant__connection=ungranted.ours).exists()
    assert _reports(ungranted.ours) == {}
