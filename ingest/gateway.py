"""The ingest gateway: `POST /hooks/<source-id>` in a process of its own, storing concurrent messages together.

The web app answers the same URL (ingest/apis.py), one message per request and one COMMIT each; that is what
`make run` uses. In production the proxy sends `/hooks/` here instead (README, "Production"): a small ASGI app
without Django's request path, whose committer thread takes every message that arrived while it was storing the
previous group and hands them to :func:`ingest.receive.receive_many`: one query for their sources, one Redis round
trip for their rate limits, one query per source for their things, one call storing the small ones, one COMMIT for
all of them (group commit), and the live pushes of the whole group coalesced per page (core/live.py). Bodies over
16 KiB (batches of hundreds of readings) go to a second committer thread, so a batch never holds up the small
messages behind it and the two overlap. Each message still gets
exactly the answer it would get alone, and only after its COMMIT: the answers, the checks and their order are
receive_many's, shared with the web app and the MQTT bridge. A message that makes the group's transaction fail is
stored again on its own with every other message of the group (ingest.services.delivery_store_many), so it
cannot fail the others.

A source none of whose things lives here any more (issue 18) is answered before its message is verified, as the web app
answers it: 308 to the same path on the things' new host (ingest.receive.elsewhere). The HTTP part: a body over 1
MiB (Content-Length or counted while reading) is a 413 once the source is known (the same order as the web app: an
unknown source is a 404 first); another path is the API's 404, another method a 405; `GET /healthz` answers "ok". An
unexpected error in the committer answers 503 with Retry-After to the group (nothing of it committed; the senders
retry), never a 500.

Run: `python manage.py ingest_gateway --port 8003` (config/gateway.py is the ASGI entry point).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from django.db import connection

from ingest.receive import MAX_BODY, Answer, Incoming, error, not_found, not_stored, receive_many

log = logging.getLogger(__name__)

PREFIX = "/hooks/"
# At most this many messages go into one transaction; more wait for the next.
MAX_GROUP = 200
# Bodies above this size (batches of a few hundred readings and more) go to a committer of their own, so a
# batch's tens of milliseconds never hold up the small messages queued behind it, and the two overlap (one
# writing while the other waits for PostgreSQL). It stores up to MAX_LARGE_GROUP batches that arrived together in
# one transaction (each in a savepoint, the things of all of them locked first in key order): the COMMIT (a WAL
# flush) and the round trips around it are a fifth to a third of a 1,000-reading batch's time. Measured in one
# process, 16 such batches, four interleaved rounds on the loaded 2-core machine: one per transaction 7,100
# readings/s and 20.5 ms of client CPU per batch, four per transaction 10,400 readings/s and 14.7 ms.
LARGE_BODY = 16 * 1024
MAX_LARGE_GROUP = 4
_STOP = object()

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Committer:
    """One thread with its own database connection; messages in, answers out (as asyncio futures' results)."""

    def __init__(self, *, max_group: int = MAX_GROUP) -> None:
        self.max_group = max_group
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def start(self) -> None:
        if self._thread is not None:  # the common case, on every request: no lock
            return
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ingest-committer", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Answer everything already handed over, then end the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, message: Incoming) -> asyncio.Future:
        """The future of `message`'s answer; call from the event loop's thread."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((message, future, loop))
        return future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            group = [first]
            while len(group) < self.max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                group.append(item)
            self._answer(group)
        connection.close()

    def _answer(self, group: list) -> None:
        try:
            answers = receive_many([message for message, _, _ in group])
        except Exception:
            # A bug, not a bad message (receive_many answers those). The senders retry; a message of the group that
            # did commit answers its retry with its first answer. The traceback goes to the log, not to them.
            log.exception("ingest gateway: %d messages failed", len(group))
            answers = [not_stored()] * len(group)
        if connection.errors_occurred:
            connection.close_if_unusable_or_obsolete()  # a lost connection is opened again for the next group
        for (_, future, loop), answer in zip(group, answers, strict=True):
            loop.call_soon_threadsafe(_settle, future, answer)


def _freeze_startup_objects() -> None:
    """Move everything alive at startup (Django, its apps and settings: some 200,000 objects) out of the cyclic
    garbage collector's sight. A 1,000-reading batch allocates a few thousand containers that live until its answer,
    so full collections come every few dozen batches, and each walked the whole process: about 100 ms of the GIL,
    measured, about 2 ms per batch on average. What is frozen was never going to be collected anyway; what the
    messages allocate is collected as before. The gateway runs alone in its process (config/gateway.py)."""
    gc.collect()
    gc.freeze()


def _settle(future: asyncio.Future, answer: Answer) -> None:
    if not future.done():  # the client may have gone away
        future.set_result(answer)


# The web app's answers to a path or method it does not serve (core/exceptions.py's one error shape).
_NOT_FOUND = not_found()
_HEADERS = [(b"content-type", b"application/json"), (b"x-content-type-options", b"nosniff")]


class Gateway:
    """The ASGI application (HTTP and lifespan): two committers, one for small messages, one for large ones."""

    def __init__(self) -> None:
        self.committer = Committer()
        # SQLite takes one writer at a time anyway (and its in-memory test database fails a second at once).
        postgres = connection.vendor == "postgresql"
        self.large = Committer(max_group=MAX_LARGE_GROUP) if postgres else self.committer
        self.committers = (self.committer, self.large) if postgres else (self.committer,)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for committer in self.committers:
                    committer.start()
                _freeze_startup_objects()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for committer in self.committers:
                    await asyncio.to_thread(committer.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/healthz" and method in ("GET", "HEAD"):
            await _respond(send, 200, b"ok", [(b"content-type", b"text/plain")])
            return
        public_id = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        if not public_id or "/" in public_id:
            await _respond_answer(send, _NOT_FOUND)
            return
        if method != "POST":
            body = json.dumps({"message": f'Method "{method}" not allowed.', "extra": {}}).encode()
            await _respond(send, 405, body, [*_HEADERS, (b"allow", b"POST")])
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        try:
            declared = int(headers.get("content-length") or 0)
        except ValueError:
            await _respond_answer(send, error(400, "The Content-Length header is not a number."))
            return
        body = None if declared > MAX_BODY else await _read_body(receive)
        committer = self.committer if body is not None and len(body) <= LARGE_BODY else self.large
        committer.start()  # started by lifespan; a server without lifespan events starts it here
        query = scope.get("query_string") or b""
        full_path = path + ("?" + query.decode("latin-1") if query else "")
        answer = await committer.submit(Incoming(public_id, headers, body, time.time(), full_path))
        await _respond_answer(send, answer)


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None as soon as it passes MAX_BODY."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond_answer(send: Send, answer: Answer) -> None:
    headers = list(_HEADERS)
    if answer.retry_after is not None:
        headers.append((b"retry-after", str(answer.retry_after).encode()))
    if answer.location is not None:
        headers.append((b"location", answer.location.encode()))
    # The same bytes as the web app's JsonResponse (json.dumps' default separators).
    await _respond(send, answer.status, json.dumps(answer.body).encode(), headers)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
