"""``/didcomm/ws`` holds each client address to its own share of a process's sockets (DIDCOMM_WS_MAX_PER_CLIENT), so
one client cannot take every place of DIDCOMM_WS_MAX_CONNECTIONS: one more from that address is closed at once with
1013 and a reason naming the cap, while other addresses still connect; behind TRUSTED_PROXY_COUNT proxies the
forwarded address counts, not the proxy's."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from didcomm import consumers
from didcomm.consumers import BUSY_CLIENT_REASON, BUSY_REASON, CLOSE_BUSY

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
RECEIVE_TIMEOUT = 5


def socket_from(address: str, forwarded: str | None = None) -> WebsocketCommunicator:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    communicator = WebsocketCommunicator(application, "/didcomm/ws", headers=headers)
    communicator.scope["client"] = (address, 40000)
    return communicator


async def opened(address: str, forwarded: str | None = None) -> WebsocketCommunicator:
    communicator = socket_from(address, forwarded)
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_nothing(timeout=0.1), "an accepted socket stays open"
    return communicator


async def refused(address: str, forwarded: str | None = None) -> dict:
    communicator = socket_from(address, forwarded)
    await communicator.connect()
    closed = await communicator.receive_output(timeout=RECEIVE_TIMEOUT)
    await communicator.wait()
    return closed


async def test_one_address_gets_its_share_and_no_more_while_others_still_connect(settings):
    settings.DIDCOMM_WS_MAX_CONNECTIONS = 10
    settings.DIDCOMM_WS_MAX_PER_CLIENT = 2
    first, second = await opened("203.0.113.5"), await opened("203.0.113.5")
    closed = await refused("203.0.113.5")
    assert closed == {"type": "websocket.close", "code": CLOSE_BUSY, "reason": BUSY_CLIENT_REASON}
    other = await opened("198.51.100.7")
    await first.disconnect()
    again = await opened("203.0.113.5")  # a freed place of its own share is taken again
    for communicator in (second, other, again):
        await communicator.disconnect()
    assert consumers._per_client == {} and consumers._open == 0


async def test_the_process_cap_still_holds_across_addresses(settings):
    settings.DIDCOMM_WS_MAX_CONNECTIONS = 2
    settings.DIDCOMM_WS_MAX_PER_CLIENT = 2
    first, second = await opened("203.0.113.5"), await opened("198.51.100.7")
    closed = await refused("192.0.2.9")
    assert closed == {"type": "websocket.close", "code": CLOSE_BUSY, "reason": BUSY_REASON}
    await first.disconnect()
    await second.disconnect()


async def test_behind_a_trusted_proxy_the_forwarded_address_counts(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.DIDCOMM_WS_MAX_CONNECTIONS = 10
    settings.DIDCOMM_WS_MAX_PER_CLIENT = 1
    # Every socket comes from the proxy's address; each agent's own address is in X-Forwarded-For.
    agent_a = await opened("127.0.0.1", "203.0.113.5")
    agent_b = await opened("127.0.0.1", "198.51.100.7")
    closed = await refused("127.0.0.1", "203.0.113.5")
    assert closed["code"] == CLOSE_BUSY and closed["reason"] == BUSY_CLIENT_REASON
    # A client cannot pick its own share by prepending addresses: the last hop's entry is the one the proxy wrote.
    closed = await refused("127.0.0.1", "192.0.2.1, 203.0.113.5")
    assert closed["code"] == CLOSE_BUSY
    await agent_a.disconnect()
    await agent_b.disconnect()
    assert consumers._per_client == {}
