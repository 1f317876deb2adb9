"""An ASGI application served by uvicorn in a thread of the test process, on a free loopback port.

In-process so the server sees the test database (on SQLite an in-memory database only this process can open).
Each server thread's database connection is closed after its request (CONN_MAX_AGE=0 while it runs), so none is
left behind to block PostgreSQL's DROP DATABASE of the test database.

The yielded URL is a `ServedURL`: its `wait_quiet()` waits until no request or WebSocket message is being handled.
A transactional test calls it before the database is flushed: a peer (ACA-Py) may still be sending an ack whose
handler writes, and on SQLite's shared in-memory database the flush would then fail with "database table is locked"
and leave rows to the next test.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


class InFlight:
    """Wraps an ASGI application and counts the work it is doing: an HTTP request while it runs, a WebSocket
    message from when it is received until the application asks for the next one."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.busy = 0
        self.last_change = time.monotonic()
        self._lock = threading.Lock()

    def _add(self, n: int) -> None:
        with self._lock:
            self.busy += n
            self.last_change = time.monotonic()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self._add(1)
            try:
                await self.application(scope, receive, send)
            finally:
                self._add(-1)
            return
        if scope["type"] != "websocket":
            await self.application(scope, receive, send)
            return
        holding = False

        async def counted_receive() -> dict:
            nonlocal holding
            if holding:
                holding = False
                self._add(-1)
            message = await receive()
            holding = True
            self._add(1)
            return message

        try:
            await self.application(scope, counted_receive, send)
        finally:
            if holding:
                self._add(-1)

    def wait_quiet(self, *, quiet: float = 0.3, timeout: float = 15.0) -> None:
        """Return once nothing has been in flight for `quiet` seconds (or after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle_for = time.monotonic() - self.last_change if self.busy == 0 else 0.0
            if idle_for >= quiet:
                return
            time.sleep(0.05)


class ServedURL(str):
    """The server's base URL, with `wait_quiet()` of its InFlight."""

    in_flight: InFlight

    def wait_quiet(self, **kwargs: float) -> None:
        self.in_flight.wait_quiet(**kwargs)

    # Copied or pickled (a dataclass's asdict deep-copies it), it is the plain URL.
    def __copy__(self) -> str:
        return str(self)

    def __deepcopy__(self, memo: dict) -> str:
        return str(self)

    def __reduce__(self) -> tuple:
        return (str, (str(self),))


@contextmanager
def asgi_in_thread(application: Any, **config: Any) -> Iterator[ServedURL]:
    """Serve `application` (uvicorn.Config options in `config`) until the block ends; yields its base URL."""
    import uvicorn
    from django.db import connections

    database = connections.settings["default"]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    in_flight = InFlight(application)
    server = uvicorn.Server(uvicorn.Config(in_flight, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.05)
        host, port = sock.getsockname()
        url = ServedURL(f"http://{host}:{port}")
        url.in_flight = in_flight
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        database["CONN_MAX_AGE"] = max_age
