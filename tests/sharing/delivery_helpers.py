"""What the outbox delivery tests share: a real HTTP receiver on loopback whose answers a test scripts, a clock the
delivery code reads (sharing.attempts.now, its one clock seam), and the rows a grant's notification needs."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from core.vault import seal
from didcomm import keys, services
from didcomm.models import Connection
from sharing import attempts
from sharing.models import Grant, OutboxItem, WebhookEndpoint
from ssi import webhooks


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A threaded HTTP server on 127.0.0.1: records every POST, answers each with the next scripted
    ``(status, headers)`` (then with ``default``)."""

    default: tuple[int, dict[str, str]] = (200, {})
    requests: list[Request] = field(default_factory=list)
    script: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    status, headers = receiver.script.popleft() if receiver.script else receiver.default
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook?token=s3cret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, *responses: tuple[int, dict[str, str]] | int) -> None:
        for response in responses:
            self.script.append((response, {}) if isinstance(response, int) else response)

    @property
    def ids(self) -> list[str]:
        return [request.headers.get("webhook-id", "") for request in self.requests]


@pytest.fixture(name="receiver")
def receiver_fixture():
    server = Receiver().start()
    yield server
    server.stop()


class Clock:
    """The delivery code's time: starts at the real now, moves only when the test says."""

    def __init__(self) -> None:
        self.at = timezone.now()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at

    def set(self, moment: datetime) -> datetime:
        self.at = moment
        return self.at


@pytest.fixture(name="clock")
def clock_fixture(monkeypatch) -> Clock:
    moving = Clock()
    monkeypatch.setattr(attempts, "now", moving)
    return moving


SECRET = webhooks.new_secret()


def endpoint_for(owner, url: str, *, secret: str = SECRET) -> WebhookEndpoint:
    sealed = seal(secret.encode())
    return WebhookEndpoint.objects.create(owner=owner, label="Acme's hook", url=url, secret_sealed=sealed)


def webhook_grant(twin, url: str, *, kinds=("readings",)) -> Grant:
    return Grant.objects.create(
        twin=twin, endpoint=endpoint_for(twin.owner, url), kinds=list(kinds), created_by=twin.owner
    )


def item_for(grant: Grant, *, window_ends_at: datetime, n: int = 1, kind: str = "readings") -> OutboxItem:
    items = [
        {"id": i, "kind": "grind", "value": 7 + i, "unit": "setting", "time": "2026-12-01T10:00:00Z"} for i in range(n)
    ]
    return OutboxItem.objects.create(
        grant=grant, twin=grant.twin, kind=kind, payload={"items": items}, count=n, window_ends_at=window_ends_at
    )


def verified(request: Request, *, at: datetime, secret: str = SECRET) -> str:
    """The webhook-id of a received request whose Standard Webhooks signature verifies at ``at``."""
    return webhooks.verify([secret], request.headers, request.body, now=at.timestamp())


@dataclass
class Peers:
    """Two agents of ours connected to each other without a handshake: the twin's (which sends notifications)
    and an organisation's or owner's (which receives them), each with its pairwise key."""

    twin_side: Connection
    party_side: Connection


def connect_agents(twin, party_owner, *, endpoint: str) -> Peers:
    """The twin's connection sends to ``endpoint`` (a receiver on loopback: the test hands what arrives to the
    inbound path itself)."""
    twin_side = Connection(agent=services.agent_for_twin(twin), state=Connection.State.COMPLETED)
    keys.pairwise_key_create(connection=twin_side)
    party_side = Connection(agent=services.agent_for_owner(party_owner), state=Connection.State.COMPLETED)
    keys.pairwise_key_create(connection=party_side)
    twin_side.their_verkey, twin_side.their_endpoint = party_side.my_verkey, endpoint
    party_side.their_verkey = twin_side.my_verkey
    twin_side.save()
    party_side.save()
    return Peers(twin_side=twin_side, party_side=party_side)
