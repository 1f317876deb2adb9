"""What one sender, or everyone together, can make a twin's agent take: per-sender and per-agent rate limits on
``POST /didcomm/`` (429 with Retry-After) and on ``/didcomm/ws`` (the socket closes with CLOSE_RATE_LIMITED), a
body over 1 MiB answered 413 in the endpoint's JSON shape with one log line, and a cap on open sockets."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from didcomm.consumers import CLOSE_BUSY, CLOSE_RATE_LIMITED
from didcomm.models import InboundMessage
from ssi import envelope
from ssi.keys import SigningKey
from tests.didcomm.endpoints import completed_connection

PING = "https://didcomm.org/trust_ping/1.0/ping"
RECEIVE_TIMEOUT = 5


def ping() -> dict:
    return {"@type": PING, "@id": str(uuid.uuid4()), "response_requested": False}


def sealed(connection, sender: SigningKey) -> bytes:
    return envelope.pack(json.dumps(ping()).encode(), to_verkeys=[connection.my_verkey], from_key=sender)


def post(raw: bytes):
    return Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)


def peer_connection(twin) -> tuple[SigningKey, object]:
    key = SigningKey.generate()
    return key, completed_connection(twin=twin, peer=key, their_label="Peer", their_endpoint="http://127.0.0.1:9/")


@pytest.mark.django_db
def test_a_sender_over_its_rate_gets_429_with_retry_after(settings, grinder):
    settings.RATE_DIDCOMM_PER_SENDER = "3/60"
    key, connection = peer_connection(grinder)
    for _ in range(3):
        assert post(sealed(connection, key)).status_code == 200
    response = post(sealed(connection, key))
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["message"] and set(response.json()) == {"message", "extra"}
    assert InboundMessage.objects.count() == 3
    # Another peer of the same agent is not held back by the first one's rate.
    other, other_connection = peer_connection(grinder)
    assert post(sealed(other_connection, other)).status_code == 200


@pytest.mark.django_db
def test_all_senders_together_are_held_to_the_agents_rate(settings, grinder):
    settings.RATE_DIDCOMM_PER_AGENT = "4/60"
    answers = []
    for _ in range(6):
        key, connection = peer_connection(grinder)
        answers.append(post(sealed(connection, key)).status_code)
    assert answers == [200] * 4 + [429] * 2
    assert InboundMessage.objects.count() == 4


@pytest.mark.django_db
def test_the_default_rates_let_a_peer_talk(grinder):
    key, connection = peer_connection(grinder)
    for _ in range(20):
        assert post(sealed(connection, key)).status_code == 200


@pytest.mark.django_db
def test_a_body_over_1_mib_is_a_413_in_json_with_one_log_line(grinder, caplog):
    caplog.set_level(logging.INFO)
    response = post(b"{" + b" " * (1024 * 1024) + b"}")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"message", "extra"} and "1 MiB" in response.json()["message"]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len([record for record in caplog.records if record.name.startswith("didcomm")]) == 1


@pytest.mark.django_db
def test_a_body_of_exactly_1_mib_is_read(grinder):
    response = post(b" " * (1024 * 1024))
    assert response.status_code == 400  # read, and refused for what it is: not an envelope


# -- the WebSocket --------------------------------------------------------------------------------------------


async def opened() -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/didcomm/ws")
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_sender_over_its_rate_on_the_socket_is_closed(settings, grinder):
    settings.RATE_DIDCOMM_PER_SENDER = "2/60"
    key, connection = await database_sync_to_async(peer_connection)(grinder)
    ws = await opened()
    try:
        for _ in range(2):
            await ws.send_to(bytes_data=await database_sync_to_async(sealed)(connection, key))
        await ws.send_to(bytes_data=await database_sync_to_async(sealed)(connection, key))
        closed = await ws.receive_output(timeout=RECEIVE_TIMEOUT)
    finally:
        await ws.disconnect()
    assert closed["type"] == "websocket.close" and closed["code"] == CLOSE_RATE_LIMITED
    assert "retry" in closed["reason"]
    assert await database_sync_to_async(InboundMessage.objects.count)() == 2


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_sockets_beyond_the_cap_are_closed_at_once_and_a_freed_place_is_taken(settings):
    settings.DIDCOMM_WS_MAX_CONNECTIONS = 2
    first, second = await opened(), await opened()
    third = WebsocketCommunicator(application, "/didcomm/ws")
    await third.connect()
    closed = await third.receive_output(timeout=RECEIVE_TIMEOUT)
    assert closed == {"type": "websocket.close", "code": CLOSE_BUSY, "reason": "too many open connections"}
    await third.wait()
    await first.disconnect()
    fourth = await opened()
    assert await fourth.receive_nothing()
    await second.disconnect()
    await fourth.disconnect()
