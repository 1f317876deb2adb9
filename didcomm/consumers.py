"""The inbound WebSocket transport, ``/didcomm/ws`` (Aries RFC 0025), with RFC 0092 return routes.

Each frame (binary or text) is one RFC 0019 envelope, received exactly as ``POST /didcomm/`` receives one. Any
agent may connect: the envelope is the authentication, so the route needs no session and no Origin (agents send
none; see config/routing.py). A message whose ``~transport.return_route`` is ``"all"`` makes this socket the
route for everything we send to its (Authcrypt-proven) sender key while it stays open, the reply to that message
included: the route is registered before the message is dispatched.

A refused envelope closes the socket with :data:`CLOSE_REFUSED` and the reason (at most 123 bytes, the close
frame's limit), as ACA-Py closes its own on a frame it cannot read; a sender over its rate limit with
:data:`CLOSE_RATE_LIMITED`; nothing that goes wrong in here is left to crash the consumer. Each process keeps at
most ``DIDCOMM_WS_MAX_CONNECTIONS`` sockets open, and at most ``DIDCOMM_WS_MAX_PER_CLIENT`` of them from one client
address (behind ``TRUSTED_PROXY_COUNT`` proxies, the address they forwarded), so one client cannot take every place:
one more is closed at once with :data:`CLOSE_BUSY` and a reason that says which cap it met. (Daphne, the production
ASGI server, drops close reasons: there the codes alone speak; other servers send the reason too.)
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import InterfaceError, OperationalError

from didcomm import tasks, transport
from didcomm.inbound import InboundError, Moved, NotYetHere, RateLimited

logger = logging.getLogger(__name__)

CLOSE_REFUSED = 4400  # the envelope or its message was refused (HTTP would answer 400)
CLOSE_RATE_LIMITED = 4429  # over a rate limit (HTTP would answer 429); the reason says when to retry
# A server may close only with 1000 or 3000-4999 under Daphne (autobahn raises on RFC 6455's 1009, 1011 or 1013,
# and the client got 1011 and a logged traceback instead), and Daphne sends no reason: the code must say it all.
CLOSE_TOO_BIG = 4413  # the frame is over transport.MAX_ENVELOPE_BYTES (HTTP would answer 413)
CLOSE_INTERNAL = 4500  # an unexpected condition (HTTP 500)
CLOSE_BUSY = 4503  # try again later: this process, or its share for the client's address, is full (HTTP 503)

MAX_CONNECTIONS = 200  # per process; setting DIDCOMM_WS_MAX_CONNECTIONS
MAX_PER_CLIENT = 20  # per process and client address; setting DIDCOMM_WS_MAX_PER_CLIENT
BUSY_REASON = "too many open connections"
BUSY_CLIENT_REASON = "too many open connections from your address"

# Sockets open in this process, in all and per client address. Consumers run on the one event loop, and nothing
# awaits between reading and changing them, so no lock is needed.
_open = 0
_per_client: dict[str, int] = {}


def max_connections() -> int:
    return int(getattr(settings, "DIDCOMM_WS_MAX_CONNECTIONS", MAX_CONNECTIONS))


def max_per_client() -> int:
    return int(getattr(settings, "DIDCOMM_WS_MAX_PER_CLIENT", MAX_PER_CLIENT))


def client_address(scope: dict[str, Any]) -> str:
    """The socket's client address, as core.ratelimit.client_id reads a request's: the address the
    TRUSTED_PROXY_COUNT-th proxy forwarded, else the peer's own."""
    address = (scope.get("client") or ("", 0))[0] or ""
    hops = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if hops:
        header = dict(scope.get("headers") or []).get(b"x-forwarded-for", b"").decode("latin-1")
        forwarded = [part.strip() for part in header.split(",") if part.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    return address


def _close_reason(text: str) -> str:
    return text.encode("utf-8")[:123].decode("utf-8", "ignore")


class DIDCommConsumer(AsyncWebsocketConsumer):
    routes: set[str]
    refresher: asyncio.Task | None = None
    counted = False
    client = ""

    async def connect(self) -> None:
        global _open
        self.routes = set()
        client = client_address(self.scope)
        busy = None
        if _open >= max_connections():
            busy = BUSY_REASON
        elif _per_client.get(client, 0) >= max_per_client():
            busy = BUSY_CLIENT_REASON
        if busy is not None:
            # Accepted, then closed with a code: a refused handshake would tell the agent nothing (a bare 403).
            await self.accept()
            return await self.close(code=CLOSE_BUSY, reason=busy)
        _open += 1
        _per_client[client] = _per_client.get(client, 0) + 1
        self.client = client
        self.counted = True
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = bytes_data if bytes_data is not None else (text_data or "").encode("utf-8")
        if len(raw) > transport.MAX_ENVELOPE_BYTES:
            return await self.close(code=CLOSE_TOO_BIG, reason="envelope too large")
        try:
            await database_sync_to_async(tasks.receive)(raw=raw, on_open=self.opened)
        except RateLimited as exc:
            return await self.close(code=CLOSE_RATE_LIMITED, reason=f"rate limited: retry in {exc.retry_after} s")
        except Moved as exc:
            if not exc.answered:  # answered with a problem report: as after any delivered message, the socket stays
                return await self.close(code=CLOSE_REFUSED, reason=_close_reason(str(exc)))
        except NotYetHere as exc:
            # Arriving, or leaving for another host: as POST /didcomm/ answers 503, the agent sends it again later.
            return await self.close(code=CLOSE_BUSY, reason=_close_reason(str(exc)))
        except InboundError as exc:
            return await self.close(code=CLOSE_REFUSED, reason=_close_reason(str(exc)))
        except (OperationalError, InterfaceError):
            # The database is away (restart, failover), as POST /didcomm/ answers 503: the agent sends it again later.
            logger.warning("DIDComm WebSocket: the database is unavailable; the socket is closed with %s", CLOSE_BUSY)
            return await self.close(code=CLOSE_BUSY, reason="the database is unavailable: send it again later")
        except Exception:
            logger.exception("DIDComm WebSocket: an envelope could not be processed")
            return await self.close(code=CLOSE_INTERNAL, reason="the envelope could not be processed")
        if self.routes and self.refresher is None:
            self.refresher = asyncio.create_task(self.refresh_routes())

    def opened(self, sender: str, message: dict[str, Any]) -> None:
        """Runs in the database thread once the envelope is open, before its message is dispatched."""
        decorator = message.get("~transport")
        if sender and isinstance(decorator, dict) and decorator.get("return_route") == "all":
            transport.return_route_register(sender, self.channel_name)
            self.routes.add(sender)

    async def refresh_routes(self) -> None:
        """Keep this socket's routes alive in the cache while it is open (they lapse on their own otherwise)."""
        while True:
            await asyncio.sleep(transport.RETURN_ROUTE_TTL / 3)
            for verkey in tuple(self.routes):
                await sync_to_async(transport.return_route_register)(verkey, self.channel_name)

    async def didcomm_outbound(self, event: dict[str, Any]) -> None:
        """An envelope :func:`didcomm.transport.deliver` sent over this socket's return route."""
        await self.send(bytes_data=event["envelope"])

    async def disconnect(self, code: int) -> None:
        global _open
        if self.counted:
            _open -= 1
            left = _per_client.get(self.client, 0) - 1
            if left > 0:
                _per_client[self.client] = left
            else:
                _per_client.pop(self.client, None)  # no entry per address that ever connected
            self.counted = False
        if self.refresher is not None:
            self.refresher.cancel()
        for verkey in tuple(self.routes):
            await sync_to_async(transport.return_route_release)(verkey, self.channel_name)
        self.routes.clear()
