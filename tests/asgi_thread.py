"""An ASGI application served by uvicorn in a thread of the test process, on a free loopback port.

In-process so the server sees the test database (on SQLite an in-memory database only this process can open).
Each server thread's database connection is closed after its request (CONN_MAX_AGE=0 while it runs), so none is
left behind to block PostgreSQL's DROP DATABASE of the test database.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def asgi_in_thread(application: Any, **config: Any) -> Iterator[str]:
    """Serve `application` (uvicorn.Config options in `config`) until the block ends; yields its base URL."""
    import uvicorn
    from django.db import connections

    database = connections.settings["default"]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.05)
        host, port = sock.getsockname()
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        database["CONN_MAX_AGE"] = max_age
