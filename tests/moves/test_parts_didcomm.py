"""The didcomm part carries the current owner's inbox items about the thing's agent only (review finding 10,
session 11).

A sale leaves the seller's inbox items about the thing (a message the thing's agent received, its body) in her
inbox: they are hers. A buyer's move must not carry them, to be filed in the arriving owner's inbox there."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from didcomm import services as didcomm_services
from didcomm.models import InboundMessage, OutboundMessage
from owners.models import Notification
from owners.services import notify
from tests.moves.test_parts_harness import mover, on_a  # noqa: F401 (fixtures)
from twins.models import Twin
from twins.transfer import offer_accept, offer_create

BASIC = "https://didcomm.org/basicmessage/1.0/message"

pytestmark = [pytest.mark.django_db, pytest.mark.needs("didcomm"), pytest.mark.usefixtures("on_a")]


def test_a_move_carries_no_inbox_item_of_a_previous_owner(
    mover, alice, bob, carol, grinder, django_capture_on_commit_callbacks
):
    didcomm_services.agent_for_twin(grinder)
    notify(
        owner=alice,
        kind=Notification.Kind.AGENT,
        title="Message from Alice's mechanic",
        twin=grinder,
        body="Alice, your grinder is ready; card ending 4242 was charged",
    )
    with django_capture_on_commit_callbacks(execute=True):
        offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    grinder = Twin.objects.get(pk=grinder.pk)
    notify(owner=bob, kind=Notification.Kind.AGENT, title="Message from Bob's mechanic", twin=grinder, body="Done")

    package, moved = mover(grinder, to_owner=carol)

    items = package["parts"]["didcomm"]["notifications"]
    assert [item["title"] for item in items] == ["Message from Bob's mechanic"]
    assert "4242" not in json.dumps(package)
    arrived = Notification.objects.filter(owner=carol, twin=moved)
    assert [(item.title, item.body) for item in arrived] == [("Message from Bob's mechanic", "Done")]


def test_a_move_carries_the_agents_messages_of_the_current_owners_time_only(
    mover, alice, bob, carol, grinder, django_capture_on_commit_callbacks
):
    """The seller's DIDComm conversations through the thing (before the sale) are hers: the buyer's pages hide
    them (didcomm.selectors, the ``owner_since`` cut), and a move by the buyer does not carry them either."""
    agent = didcomm_services.agent_for_twin(grinder)
    secret = {"content": "Alice's insurer: policy 77-4242 renewed"}
    InboundMessage.objects.create(agent=agent, message_id="in-alice", type=BASIC, body=secret)
    OutboundMessage.objects.create(
        agent=agent, message_id="out-alice", type=BASIC, body=secret, status=OutboundMessage.Status.SENT
    )
    with django_capture_on_commit_callbacks(execute=True):
        offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    grinder = Twin.objects.get(pk=grinder.pk)
    # Recorded before the sale (the rows' times are set on insert: put them back a minute).
    before = grinder.owner_since - timedelta(minutes=1)
    InboundMessage.objects.filter(message_id="in-alice").update(received_at=before)
    OutboundMessage.objects.filter(message_id="out-alice").update(created_at=before)
    InboundMessage.objects.create(agent=agent, message_id="in-bob", type=BASIC, body={"content": "Bob's"})
    OutboundMessage.objects.create(agent=agent, message_id="out-bob", type=BASIC, body={"content": "Bob's reply"})

    package, moved = mover(grinder, to_owner=carol)

    part = package["parts"]["didcomm"]
    assert [m["message_id"] for m in part["inbound"]] == ["in-bob"]
    assert [m["message_id"] for m in part["outbound"]] == ["out-bob"]
    assert "77-4242" not in json.dumps(package)
    assert set(InboundMessage.objects.filter(agent__twin=moved).values_list("message_id", flat=True)) == {"in-bob"}
    assert set(OutboundMessage.objects.filter(agent__twin=moved).values_list("message_id", flat=True)) == {"out-bob"}
