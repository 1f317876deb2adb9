"""Redis restarts while a private page is open: the page's live updates resume without a reload."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator

from config.asgi import application
from core.live import twin_group
from tests.faults.conftest import Proxy
from tests.twins.test_live import headers_for

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_through_proxy(settings):
    proxy = Proxy("127.0.0.1", 6379)
    proxy.start()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{proxy.port}/13"]},
        }
    }
    channel_layers.backends.clear()
    yield proxy
    proxy.stop()
    channel_layers.backends.clear()


@pytest.fixture
def alice_headers(alice):
    return headers_for(alice)


async def test_live_updates_resume_after_the_channel_layer_comes_back(
    redis_through_proxy, alice, alice_headers, grinder
):
    proxy = redis_through_proxy
    page = WebsocketCommunicator(application, f"/ws/twins/{grinder.slug}/", headers=alice_headers)
    connected, _ = await page.connect()
    assert connected
    try:
        layer = channel_layers["default"]
        event = {"type": "live.event", "event": {"kind": "note", "n": 1}, "owner": alice.pk, "twin": grinder.pk}
        await layer.group_send(twin_group(grinder.pk), {**event, "group": "twin"})
        assert (await page.receive_json_from(timeout=5))["n"] == 1
        proxy.stop()  # Redis is gone: every connection cut, the port closed
        await asyncio.sleep(1.5)
        assert await page.receive_nothing(timeout=0.2)  # the socket is still open, waiting
        proxy.start()  # Redis is back on the same address
        for _ in range(20):  # the sender's own pooled connections were cut too: it retries as core.live would
            try:
                await layer.group_send(
                    twin_group(grinder.pk), {**event, "event": {"kind": "note", "n": 2}, "group": "twin"}
                )
                break
            except OSError:
                await asyncio.sleep(0.2)
        # The page's socket reconnects with its backoff and then receives what waited in its channel. channels_redis
        # delivers at least once: a message taken just before the cut may come again from its backup queue.
        received = [(await page.receive_json_from(timeout=20))["n"]]
        while received[-1] == 1 and len(received) < 5:
            received.append((await page.receive_json_from(timeout=20))["n"])
        assert received[-1] == 2, received
    finally:
        await page.disconnect()
