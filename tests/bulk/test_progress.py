"""A job's progress is pushed to its owner's open pages (core.live, the owner's group) every few things and when
it ends; the job page's socket hears it (twins.consumers.OwnerConsumer forwards it as it is)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from bulk import jobs
from bulk.actions import action_get
from bulk.selection import Selection
from core.live import owner_group
from tests.bulk.conftest import make_things


def received(layer, channel: str) -> list[dict]:
    """What the channel holds now (the pushes were sent when each transaction committed, before this runs)."""
    events = []

    async def drain() -> None:
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=0.5)
            except TimeoutError:
                return
            events.extend(message["messages"] if message["type"] == "live.events" else [message])

    async_to_sync(drain)()
    return [event["event"] for event in events]


@pytest.mark.django_db(transaction=True)
def test_progress_is_pushed_every_few_things_and_at_the_end(alice, monkeypatch):
    monkeypatch.setattr(jobs, "PROGRESS_EVERY", 3)
    make_things(alice, 7)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(owner_group(alice.pk), channel)
    job = jobs.job_create(owner=alice, action=action_get("mark-lost"), params={}, selection=Selection.from_params({}))
    events = [event for event in received(layer, channel) if event["kind"] == "bulk"]
    assert [(e["status"], e["done"]) for e in events] == [("running", 3), ("running", 6), ("done", 7)]
    assert all(e["job"] == job.pk and e["total"] == 7 and e["failed"] == 0 for e in events)


@pytest.mark.needs("fleets")
def test_a_group_that_is_not_yours_is_a_400_not_a_500(alice_api, carol, drills):
    from fleets import services as fleet_services

    carols = fleet_services.group_create(owner=carol, name="Carol's herd")
    response = alice_api.post(
        "/api/bulk/jobs",
        {"action": "add-to-group", "params": {"group": carols.pk}, "selection": {"all": True}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("group:")
