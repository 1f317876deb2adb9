"""The WebSocket transport both ways.

In: ``/didcomm/ws`` (through config.asgi's router, with no Origin and no session, as agents connect) receives
envelopes in binary or text frames like ``POST /didcomm/``; ``return_route: all`` brings the reply, and every
later message for the sender, back over the open socket; a refused envelope closes it with the reason.
Out: a ``ws://`` endpoint (a real server on loopback) gets the envelope asking for ``return_route: all``, and
what it answers on the socket is received as any inbound message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from contextlib import asynccontextmanager

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from didcomm import outbox, transport
from didcomm.consumers import CLOSE_REFUSED, CLOSE_TOO_BIG
from didcomm.models import Connection, InboundMessage, OutboundMessage
from didcomm.tasks import deliver_outbound
from ssi import envelope, messages
from ssi.keys import SigningKey
from tests.didcomm.endpoints import (
    closed_port,
    http_endpoint,
    open_envelope,
    open_message,
    verkey,
    ws_endpoint,
)

PATH = "/didcomm/ws"
RECEIVE_TIMEOUT = 5
PING = "https://didcomm.org/trust_ping/1.0/ping"
BASIC = "https://didcomm.org/basicmessage/1.0/message"


def message(type_: str, **body) -> dict:
    return {"@type": type_, "@id": str(uuid.uuid4()), **body}


def sealed(msg: dict, connection: Connection, sender: SigningKey | None) -> bytes:
    return envelope.pack(json.dumps(msg).encode(), to_verkeys=[connection.my_verkey], from_key=sender)


RETURN_ROUTE = {"~transport": {"return_route": "all"}}


@asynccontextmanager
async def socket(headers: list[tuple[bytes, bytes]] | None = None):
    communicator = WebsocketCommunicator(application, PATH, headers=headers or [])
    try:
        connected, _ = await communicator.connect()
        assert connected
        yield communicator
    finally:
        await communicator.disconnect()


async def stored(message_id: str, timeout: float = RECEIVE_TIMEOUT) -> InboundMessage:
    """The inbound row once the consumer has processed the frame (it is sent before it is read)."""
    deadline = time.monotonic() + timeout
    while True:
        row = await database_sync_to_async(InboundMessage.objects.filter(message_id=message_id).first)()
        if row is not None or time.monotonic() > deadline:
            assert row is not None, f"{message_id} was not received"
            return row
        await asyncio.sleep(0.02)


# -- in ---------------------------------------------------------------------------


@pytest.mark.parametrize("frame", ["binary", "text"])
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_envelope_in_a_frame_is_received_like_a_post(connection, peer, frame):
    chat = message(BASIC, content="Hello over a socket", sent_time="2026-01-01T00:00:00Z")
    raw = sealed(chat, connection, peer)
    async with socket() as ws:  # no Origin, no cookie: the envelope is the authentication
        if frame == "binary":
            await ws.send_to(bytes_data=raw)
        else:
            await ws.send_to(text_data=raw.decode())
        row = await stored(chat["@id"])
        assert await ws.receive_nothing()
    assert row.connection_id == connection.pk
    assert row.sender_verkey == verkey(peer)
    assert row.body["content"] == "Hello over a socket"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_with_return_route_all_the_reply_comes_back_over_the_socket(connection, peer):
    ping = message(PING, response_requested=True, **RETURN_ROUTE)
    async with socket() as ws:
        await ws.send_to(bytes_data=sealed(ping, connection, peer))
        raw = await ws.receive_from(timeout=RECEIVE_TIMEOUT)
    opened = open_envelope(raw, peer)
    assert opened.sender_verkey == connection.my_verkey
    answer = json.loads(opened.message)
    assert answer["@type"] == messages.DIDCOMM_PREFIX + messages.PING_RESPONSE
    assert answer["~thread"] == {"thid": ping["@id"]}
    reply = await database_sync_to_async(OutboundMessage.objects.get)(message_id=answer["@id"])
    assert reply.status == OutboundMessage.Status.SENT and reply.attempts == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_later_messages_for_the_sender_go_over_the_open_socket_and_to_the_endpoint_once_it_closes(
    connection, peer
):
    async with socket() as ws:
        ping = message(PING, response_requested=False, **RETURN_ROUTE)
        await ws.send_to(bytes_data=sealed(ping, connection, peer))
        await stored(ping["@id"])
        assert transport.return_route_channel(verkey(peer)) is not None

        sent = await database_sync_to_async(outbox.basic_message_send)(connection=connection, content="first")
        got = open_message(await ws.receive_from(timeout=RECEIVE_TIMEOUT), peer)
        assert got["@id"] == sent.message_id and got["content"] == "first"

    assert transport.return_route_channel(verkey(peer)) is None
    with http_endpoint() as (url, received):
        connection.their_endpoint = url
        await database_sync_to_async(connection.save)(update_fields=["their_endpoint"])
        after = await database_sync_to_async(outbox.basic_message_send)(connection=connection, content="later")
    (raw,) = received.bodies
    assert open_message(raw, peer)["@id"] == after.message_id


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_without_return_route_the_reply_goes_to_the_endpoint(connection, peer):
    ping = message(PING, response_requested=True)
    with http_endpoint() as (url, received):
        connection.their_endpoint = url
        await database_sync_to_async(connection.save)(update_fields=["their_endpoint"])
        async with socket() as ws:
            await ws.send_to(bytes_data=sealed(ping, connection, peer))
            await stored(ping["@id"])
            assert await ws.receive_nothing()
    (raw,) = received.bodies
    assert open_message(raw, peer)["~thread"] == {"thid": ping["@id"]}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_anonymous_sender_is_refused_and_gets_no_return_route(connection):
    # Anoncrypt names no sender key: nobody proven to be the peer, and nothing to route back to.
    ping = message(PING, response_requested=False, **RETURN_ROUTE)
    async with socket() as ws:
        await ws.send_to(bytes_data=sealed(ping, connection, None))
        closed = await ws.receive_output(timeout=RECEIVE_TIMEOUT)
    assert closed["code"] == CLOSE_REFUSED and "no connection with this sender" in closed["reason"]
    assert not await database_sync_to_async(InboundMessage.objects.exists)()
    assert transport.return_route_channel("") is None


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_duplicate_over_the_socket_is_processed_once(connection, peer):
    ping = message(PING, response_requested=True, **RETURN_ROUTE)
    raw = sealed(ping, connection, peer)
    async with socket() as ws:
        await ws.send_to(bytes_data=raw)
        await ws.receive_from(timeout=RECEIVE_TIMEOUT)
        await ws.send_to(bytes_data=raw)
        assert await ws.receive_nothing()
    count = await database_sync_to_async(InboundMessage.objects.filter(message_id=ping["@id"]).count)()
    replies = await database_sync_to_async(OutboundMessage.objects.count)()
    assert count == 1 and replies == 1


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"not an envelope", "not an RFC 0019 envelope"),
        (b'{"protected": "e30", "iv": "", "ciphertext": "", "tag": ""}', "not an RFC 0019 envelope"),
    ],
)
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_refused_envelope_closes_the_socket_with_the_reason(connection, frame, reason):
    async with socket() as ws:
        await ws.send_to(bytes_data=frame)
        closed = await ws.receive_output(timeout=RECEIVE_TIMEOUT)
    assert closed == {"type": "websocket.close", "code": CLOSE_REFUSED, "reason": reason}
    assert not await database_sync_to_async(InboundMessage.objects.exists)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_envelope_for_a_key_that_is_not_ours_is_refused_and_the_next_socket_still_works(connection, peer):
    stranger = SigningKey.generate()
    foreign = envelope.pack(json.dumps(message(PING)).encode(), to_verkeys=[verkey(stranger)], from_key=peer)
    async with socket() as ws:
        await ws.send_to(bytes_data=foreign)
        closed = await ws.receive_output(timeout=RECEIVE_TIMEOUT)
    assert closed["code"] == CLOSE_REFUSED and "no recipient key of ours" in closed["reason"]
    ping = message(PING, response_requested=False)
    async with socket() as ws:
        await ws.send_to(bytes_data=sealed(ping, connection, peer))
        await stored(ping["@id"])


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_oversized_frame_is_refused_unread(monkeypatch, connection, peer):
    monkeypatch.setattr(transport, "MAX_ENVELOPE_BYTES", 100)
    async with socket() as ws:
        await ws.send_to(bytes_data=sealed(message(PING), connection, peer))
        closed = await ws.receive_output(timeout=RECEIVE_TIMEOUT)
    assert closed["code"] == CLOSE_TOO_BIG
    assert not await database_sync_to_async(InboundMessage.objects.exists)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_open_socket_keeps_its_return_route_alive(monkeypatch, connection, peer):
    monkeypatch.setattr(transport, "RETURN_ROUTE_TTL", 0.3)
    ping = message(PING, response_requested=False, **RETURN_ROUTE)
    async with socket() as ws:
        await ws.send_to(bytes_data=sealed(ping, connection, peer))
        await stored(ping["@id"])
        channel = transport.return_route_channel(verkey(peer))
        assert channel
        # Let several TTLs pass: the consumer refreshes the route each third of one.
        for _ in range(10):
            await asyncio.sleep(0.1)
            assert transport.return_route_channel(verkey(peer)) == channel
    assert transport.return_route_channel(verkey(peer)) is None


# -- out --------------------------------------------------------------------------


def answering_pings(connection: Connection, peer: SigningKey, seen: list[dict]):
    """A peer that answers a ping on the socket it came in on, if the ping asked for the return route."""

    def answer(raw: bytes) -> list[bytes]:
        msg = open_message(raw, peer)
        seen.append(msg)
        if msg.get("~transport", {}).get("return_route") != "all" or not msg["@type"].endswith("/ping"):
            return []
        response = message(messages.DIDCOMM_PREFIX + messages.PING_RESPONSE, **{"~thread": {"thid": msg["@id"]}})
        return [sealed(response, connection, peer)]

    return answer


@pytest.mark.django_db
def test_a_ws_endpoint_gets_the_message_with_return_route_all_and_its_answer_is_received(connection, peer):
    seen: list[dict] = []
    with ws_endpoint(answering_pings(connection, peer, seen)) as (url, received):
        connection.their_endpoint = url
        connection.save(update_fields=["their_endpoint"])
        ping = outbox.ping_send(connection=connection)
        deliver_outbound.call(ping.pk)
    assert received.content_types == ["binary"]
    (got,) = seen
    assert got["@id"] == ping.message_id
    assert got["~transport"] == {"return_route": "all"}
    ping.refresh_from_db()
    assert ping.status == OutboundMessage.Status.SENT
    assert "~transport" not in ping.body  # added on the wire only
    answer = InboundMessage.objects.get(type=messages.DIDCOMM_PREFIX + messages.PING_RESPONSE)
    assert answer.connection_id == connection.pk and answer.sender_verkey == verkey(peer)
    connection.refresh_from_db()
    assert connection.last_rtt_ms is not None  # the answer went through the handler


@pytest.mark.django_db
def test_an_answer_on_the_socket_that_cannot_be_opened_is_dropped_and_logged(connection, caplog):
    with ws_endpoint(lambda raw: [b"garbage"]) as (url, _), caplog.at_level(logging.WARNING, "didcomm.tasks"):
        connection.their_endpoint = url
        connection.save(update_fields=["their_endpoint"])
        sent = outbox.basic_message_send(connection=connection, content="hi")
        deliver_outbound.call(sent.pk)
    sent.refresh_from_db()
    assert sent.status == OutboundMessage.Status.SENT
    assert "reply over WebSocket refused" in caplog.text
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize(("status", "outcome"), [(403, "failed"), (404, "failed"), (503, "queued"), (429, "queued")])
@pytest.mark.django_db
def test_a_ws_handshake_refused_with_a_status_is_classified_like_http(connection, status, outcome):
    with ws_endpoint(refuse_with=status) as (url, received):
        connection.their_endpoint = url
        connection.save(update_fields=["their_endpoint"])
        sent = outbox.basic_message_send(connection=connection, content="hi")
        deliver_outbound.call(sent.pk)
    sent.refresh_from_db()
    assert sent.status == outcome
    assert f"answered {status}" in sent.last_error
    assert received.bodies == []


@pytest.mark.django_db
def test_an_unreachable_ws_endpoint_is_retried(connection):
    connection.their_endpoint = f"ws://127.0.0.1:{closed_port()}/"
    connection.save(update_fields=["their_endpoint"])
    sent = outbox.basic_message_send(connection=connection, content="hi")
    deliver_outbound.call(sent.pk)
    sent.refresh_from_db()
    assert sent.status == OutboundMessage.Status.QUEUED
    assert sent.attempts == 1 and sent.next_attempt_at is not None
