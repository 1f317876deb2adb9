"""``/didcomm/ws`` holds each client address to its own share of a process's sockets (DIDCOMM_WS_MAX_PER_CLIENT),
so one client cannot take every place of DIDCOMM_WS_MAX_CONNECTIONS: one more from that address is closed at once
with 4503 (CLOSE_BUSY) and a reason naming the cap, while other addresses still connect; behind TRUSTED_PROXY_COUNT
proxies the forwarded address counts, not the proxy's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from didcomm import consumers
from didcomm.consumers import BUSY_CLIENT_REASON, BUSY_REASON, CLOSE_BUSY

# The caps are counted in the process and read no table, but Channels tidies database connections around every
# event, which pytest-django allows only under a database mark.
DB = pytest.mark.django_db
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


@pytest.mark.asyncio
@DB
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


@pytest.mark.asyncio
@DB
async def test_the_process_cap_still_holds_across_addresses(settings):
    settings.DIDCOMM_WS_MAX_CONNECTIONS = 2
    settings.DIDCOMM_WS_MAX_PER_CLIENT = 2
    first, second = await opened("203.0.113.5"), await opened("198.51.100.7")
    closed = await refused("192.0.2.9")
    assert closed == {"type": "websocket.close", "code": CLOSE_BUSY, "reason": BUSY_REASON}
    await first.disconnect()
    await second.disconnect()


@pytest.mark.asyncio
@DB
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


# -- the same against Daphne, the production ASGI server ---------------------------------------------------------


def test_daphne_closes_a_socket_over_the_cap_with_the_code_and_no_traceback(tmp_path):
    """Daphne accepts only 1000 and 3000-4999 from an application (autobahn raised on RFC 6455's 1013, so the
    agent got 1011 and the log a traceback): the codes are in the 4000s and arrive as sent."""
    import asyncio

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from tests.faults.pg_cluster import free_port
    from tests.faults.pg_stack import production_env
    from tests.security.test_slow_clients import ROOT, stop, wait_listening

    port = free_port()
    env = production_env(database_url=f"sqlite:///{tmp_path}/db.sqlite3", mqtt_port=1883, site_port=port)
    env.update(DIDCOMM_WS_MAX_PER_CLIENT="2", LOG_LEVEL="INFO")
    log = tmp_path / "daphne.log"
    daphne = subprocess.Popen(
        [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    async def talk() -> int | None:
        url = f"ws://127.0.0.1:{port}/didcomm/ws"
        kept = [await connect(url), await connect(url)]
        third = await connect(url)
        try:
            await asyncio.wait_for(third.recv(), timeout=20)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        finally:
            for ws in kept:
                await ws.close()
        return None

    try:
        wait_listening(port, daphne)
        code = asyncio.run(talk())
    finally:
        stop(daphne)
    assert code == CLOSE_BUSY
    assert "Traceback" not in log.read_text()
