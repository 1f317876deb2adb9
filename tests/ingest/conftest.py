"""Ingestion fixtures: alice's source feeding her grinder, and a sender that signs like a real one."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import pytest
from django.test import Client, TestCase

from ingest import services as ingest_services
from ingest.models import Source
from ssi import webhooks
from tests.redis_dbs import redis_url


@dataclass
class Sender:
    """Posts to a source's hook the way a Standard Webhooks sender does.

    Each test runs in a transaction that never commits, so after each request the sender runs what was waiting
    for the commit (pushes, and the history flush of small messages: the ImmediateBackend runs it at once), as a
    real commit would. `commit=False` leaves that to the test.
    """

    client: Client
    source: Source
    secret: str

    def post(
        self,
        payload=None,
        *,
        body: bytes | None = None,
        msg_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        source_id: str | None = None,
        commit: bool = True,
    ):
        if body is None:
            body = json.dumps(payload).encode()
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        timestamp = int(time.time()) if timestamp is None else timestamp
        signed = webhooks.headers_for(secret or self.secret, msg_id, timestamp, body)
        if headers is not None:
            signed = headers
        with TestCase.captureOnCommitCallbacks(execute=commit):
            return self.client.post(
                f"/hooks/{source_id or self.source.public_id}",
                data=body,
                content_type="application/json",
                headers=signed,
            )


@pytest.fixture
def source_and_secret(alice, grinder) -> tuple[Source, str]:
    source, secret = ingest_services.source_create(owner=alice, name="Acme cloud")
    ingest_services.source_link_thing(source=source, twin=grinder, external_id="acme-grinder-7")
    return source, secret


@pytest.fixture
def source(source_and_secret) -> Source:
    return source_and_secret[0]


@pytest.fixture
def sender(source_and_secret) -> Sender:
    source, secret = source_and_secret
    return Sender(client=Client(), source=source, secret=secret)


@pytest.fixture
def redis_client(settings):
    """REDIS_URL set to the real Redis on loopback (database 13), and a client for it. Redis runs wherever the
    suite runs (README): an unreachable one fails the test rather than skipping it."""
    import redis

    settings.REDIS_URL = redis_url(13)
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {settings.REDIS_URL}: {exc}")
    return client
