"""A peer agent's endpoints on loopback, for delivery tests: real servers in threads, which open what they
receive with ssi.envelope and the peer's own key."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.http11 import Response
from websockets.sync.server import ServerConnection, serve

from ssi import envelope
from ssi.keys import SigningKey
from ssi.multibase import b58encode


def verkey(key: SigningKey) -> str:
    return b58encode(key.verify_key.raw)


def completed_connection(*, twin, peer: SigningKey, **fields: Any):
    """A completed connection of ``twin``'s agent with ``peer``, over a pairwise key of ours; the connection's
    other fields (their_endpoint, their_did, …) as given."""
    from didcomm import keys, services
    from didcomm.models import Connection

    connection = Connection(
        agent=services.agent_for_twin(twin),
        state=Connection.State.COMPLETED,
        their_verkey=verkey(peer),
        **fields,
    )
    keys.pairwise_key_create(connection=connection)
    connection.save()
    return connection


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    """What an endpoint got: each request's raw body, in arrival order."""

    bodies: list[bytes] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, body: bytes, content_type: str = "") -> None:
        with self.lock:
            self.bodies.append(body)
            self.content_types.append(content_type)


def open_envelope(raw: bytes, key: SigningKey) -> envelope.Unpacked:
    return envelope.unpack(raw, my_keys={verkey(key): key})


def open_message(raw: bytes, key: SigningKey) -> dict[str, Any]:
    return json.loads(open_envelope(raw, key).message)


@contextmanager
def http_endpoint(
    statuses: list[int] | None = None, *, hold: threading.Event | None = None
) -> Iterator[tuple[str, Received]]:
    """An HTTP endpoint answering each POST with the next of ``statuses`` (then 200). With ``hold``, every
    request waits until it is set before answering (to keep a send in flight)."""
    received = Received()
    answers = list(statuses or [])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received.add(self.rfile.read(length), self.headers.get("Content-Type", ""))
            if hold is not None:
                hold.wait(timeout=30)
            with received.lock:
                status = answers.pop(0) if answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/inbox", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def ws_endpoint(
    answer: Callable[[bytes], list[bytes]] | None = None, *, refuse_with: int | None = None
) -> Iterator[tuple[str, Received]]:
    """A WebSocket endpoint: records each frame and sends back on the same socket what ``answer(frame)``
    returns. With ``refuse_with``, the opening handshake is answered with that HTTP status instead."""
    received = Received()

    def process_request(connection: ServerConnection, request) -> Response | None:
        if refuse_with is not None:
            return connection.respond(refuse_with, "refused\n")
        return None

    def handler(connection: ServerConnection) -> None:
        for frame in connection:
            raw = frame.encode() if isinstance(frame, str) else frame
            received.add(raw, "text" if isinstance(frame, str) else "binary")
            for reply in answer(raw) if answer is not None else []:
                connection.send(reply)

    server = serve(handler, "127.0.0.1", 0, process_request=process_request, compression=None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/", received
    finally:
        server.shutdown()
        thread.join(timeout=5)
