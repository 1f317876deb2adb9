"""A raw Redis client for the few hot paths that need more than Django's cache API (pipelines, lists)."""

from __future__ import annotations

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}


def redis_client() -> redis.Redis | None:
    """The client for REDIS_URL, or None when Redis is not configured (development on one process).

    Created lazily, so each gunicorn worker (forked after import) gets its own connection pool.
    """
    url = settings.REDIS_URL
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url)
    return client
