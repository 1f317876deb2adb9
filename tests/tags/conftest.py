"""Fixtures shared by the tags tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis

from core.redis import redis_client
from tests.redis_dbs import redis_url

# The real Redis on loopback, in a database only the tags tests use (flushed before and after each test): no other
# test folder touches it (tests/ingest: 13, tests/twins/test_live: 12, tests/test_redis.py and tests/security: 15)
# and neither does bench/_server.py (14).
SCAN_REDIS_URL = redis_url(11)

TASK_BACKENDS = {
    # A worker that never runs: enqueued flushes are listed, not run, and buffered scans wait in Redis.
    "dummy": "django.tasks.backends.dummy.DummyBackend",
    # Enqueued tasks run at once (a scan's history task after a flush commits).
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
}


@pytest.fixture
def scan_redis(request: pytest.FixtureRequest, settings) -> Iterator[Redis]:
    """Redis for the cache, the rate limits and the scan buffer, empty at the start and flushed at the end; a client
    for it. Tasks go to the "dummy" backend unless the test asks for "immediate":
    ``@pytest.mark.parametrize("scan_redis", ["immediate"], indirect=True)``."""
    settings.REDIS_URL = SCAN_REDIS_URL
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": SCAN_REDIS_URL}
    }
    settings.TASKS = {"default": {"BACKEND": TASK_BACKENDS[getattr(request, "param", "dummy")]}}
    client = redis_client()
    client.flushdb()
    yield client
    client.flushdb()
