"""``/didcomm/ws`` while the database is away: the socket is closed with 4503 (try again later), as ``POST
/didcomm/`` answers 503, not with an internal error and a traceback."""

from __future__ import annotations

import logging

import pytest
from channels.testing import WebsocketCommunicator
from django.db import OperationalError

from config.asgi import application
from didcomm import consumers
from didcomm.consumers import CLOSE_BUSY


@pytest.mark.asyncio
@pytest.mark.django_db  # nothing is read, but the consumer's database thread tidies its connections
async def test_an_envelope_met_by_a_database_outage_closes_the_socket_with_try_again_later(monkeypatch, caplog):
    def database_down(**kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    # The outage is the environment, not the consumer: the receive call meets it as psycopg's error.
    monkeypatch.setattr(consumers.tasks, "receive", database_down)
    communicator = WebsocketCommunicator(application, "/didcomm/ws")
    connected, _ = await communicator.connect()
    assert connected
    try:
        await communicator.send_to(bytes_data=b'{"protected": "..."}')
        closed = await communicator.receive_output(timeout=5)
    finally:
        await communicator.disconnect()  # the client's side of the close, which frees the socket's place
    assert closed["type"] == "websocket.close" and closed["code"] == CLOSE_BUSY
    assert "database" in closed["reason"]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert consumers._open == 0
