"""The didcomm part carries the current owner's inbox items about the thing's agent only (review finding 10,
session 11).

A sale leaves the seller's inbox items about the thing (a message the thing's agent received, its body) in her
inbox: they are hers. A buyer's move must not carry them, to be filed in the arriving owner's inbox there."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import json

import pytest

from didcomm import services as didcomm_services
from owners.models import Notification
from owners.services import notify
from tests.moves.test_parts_harness import mover, on_a  # noqa: F401 (fixtures)
from twins.models import Twin
from twins.transfer import offer_accept, offer_create

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
