"""A thing on its way to another host (``Twin.leaving_to``, from the owner's confirmation of the move until the old
host lets go or the move is called off): its agent takes no message, which would be recorded here after the
package was built and stay behind. The sender is told to send it again later (HTTP 503 with Retry-After, a
WebSocket closed as busy) and nothing is written; a real ACA-Py 1.7 sends it again by itself (its outbound queue
retries a failed delivery 4 times, 10 s apart), and once the move is called off the retry is taken here."""

from __future__ import annotations

import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from config.asgi import application
from didcomm import services
from didcomm.consumers import CLOSE_BUSY
from didcomm.models import Connection, InboundMessage, OutboundMessage
from owners.models import Notification
from ssi import envelope
from ssi.keys import SigningKey
from tests.didcomm.endpoints import completed_connection
from tests.interop import conftest as interop
from tests.interop.test_acapy_scenarios import admin, live, thingstead_invites, wait_until  # noqa: F401
from twins import leaving
from twins.models import HistoryEntry

# tests/interop's ACA-Py fixtures (this module is not under tests/interop, where they are visible).
acapy_python, acapy_webhooks, acapy_agent = interop.acapy_python, interop.acapy_webhooks, interop.acapy_agent

BASIC = "https://didcomm.org/basicmessage/1.0/message"
NEW_HOST = "https://b.example"


def message(content: str) -> dict:
    return {"@type": BASIC, "@id": str(uuid.uuid4()), "content": content}


def pack(body: dict, connection: Connection, peer: SigningKey) -> bytes:
    return envelope.pack(json.dumps(body).encode(), to_verkeys=[connection.my_verkey], from_key=peer)


def recorded(twin) -> tuple[int, int, int, int]:
    return (
        InboundMessage.objects.count(),
        OutboundMessage.objects.count(),
        HistoryEntry.objects.filter(twin=twin).count(),
        Notification.objects.count(),
    )


def freeze(twin) -> None:
    """The owner confirmed a move of ``twin`` to the new host (moves does this in the confirmation)."""
    leaving.freeze(twin, destination_url=NEW_HOST)


@pytest.fixture
def connection(grinder, peer) -> Connection:
    return completed_connection(twin=grinder, peer=peer, their_label="Peer", their_endpoint="http://127.0.0.1:9/")


@pytest.mark.django_db
def test_a_message_for_a_leaving_thing_is_refused_with_retry_after_and_nothing_is_recorded(connection, peer, grinder):
    freeze(grinder)
    before = recorded(grinder)

    response = Client().post(
        "/didcomm/", data=pack(message("Still there?"), connection, peer), content_type=envelope.MEDIA_TYPE
    )

    assert response.status_code == 503
    assert response["Retry-After"]
    assert "moving to another host" in response.json()["message"]
    assert recorded(grinder) == before


@pytest.mark.django_db
def test_once_the_move_is_called_off_the_same_message_is_taken(connection, peer, grinder):
    freeze(grinder)
    raw = pack(message("Still there?"), connection, peer)
    assert Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE).status_code == 503

    leaving.thaw(grinder.pk)

    assert Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE).status_code == 200
    assert InboundMessage.objects.get().body["content"] == "Still there?"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_over_a_websocket_the_socket_is_closed_as_busy_and_nothing_is_recorded(connection, peer, grinder):
    await database_sync_to_async(freeze)(grinder)
    raw = await database_sync_to_async(pack)(message("Still there?"), connection, peer)
    ws = WebsocketCommunicator(application, "/didcomm/ws")
    try:
        assert (await ws.connect())[0]
        await ws.send_to(bytes_data=raw)
        closed = await ws.receive_output(timeout=5)
    finally:
        await ws.disconnect()
    assert closed["code"] == CLOSE_BUSY and "moving to another host" in closed["reason"]
    assert not await database_sync_to_async(InboundMessage.objects.exists)()
    await sync_to_async(connections.close_all)()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_acapy_peer_sends_a_refused_message_again_and_it_arrives_once_the_move_is_called_off(
    live,  # noqa: F811
    grinder,
    acapy_agent,
    acapy_webhooks,
):
    hooks = acapy_webhooks.webhooks
    pair = thingstead_invites(acapy_agent, hooks, services.agent_for_twin(grinder), "1.1")
    freeze(grinder)

    content = f"sent while leaving {uuid.uuid4()}"
    admin(acapy_agent, "POST", f"/connections/{pair.theirs}/send-message", {"content": content})
    arrived = InboundMessage.objects.filter(connection=pair.ours, body__content=content)
    # ACA-Py's first delivery is refused (503): nothing is taken while the thing is leaving.
    assert not wait_until(arrived.exists, timeout=3)

    leaving.thaw(grinder.pk)  # the move is called off: the thing stays here

    # ACA-Py sends it again by itself (10 s later), and this time it is taken, once.
    assert wait_until(arrived.exists, timeout=40), "ACA-Py did not deliver the refused message again"
    assert arrived.count() == 1
