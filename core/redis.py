"""A raw Redis client for the few hot paths that need more than Django's cache API (pipelines, lists)."""

from __future__ import annotations

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

# What an unreachable or restarting Redis raises: callers that can degrade catch these (and nothing else).
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

_clients: dict[str, redis.Redis] = {}


def redis_options(*, timeout: float, health_check_seconds: int) -> dict:
    """Connection options shared by this client and the cache (config/settings.py CACHES: so it takes values,
    not settings).

    One retry at once on a connection error: after a Redis restart the pool still holds sockets to the old
    process, and the first command on one would otherwise fail the request. Short timeouts, so a Redis that
    does not answer costs a request about a second, not a worker for minutes.
    """
    return {
        "retry": Retry(NoBackoff(), 1),
        "retry_on_error": list(REDIS_ERRORS),
        "health_check_interval": health_check_seconds,
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
    }


def redis_client() -> redis.Redis | None:
    """The client for REDIS_URL, or None when Redis is not configured (development on one process).

    Created lazily, so each gunicorn worker (forked after import) gets its own connection pool.
    """
    url = settings.REDIS_URL
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(
            url,
            **redis_options(
                timeout=settings.REDIS_TIMEOUT_SECONDS, health_check_seconds=settings.REDIS_HEALTH_CHECK_SECONDS
            ),
        )
    return client


def redis_status() -> str | None:
    """ "ok" or "unavailable" for the health check; None when Redis is not configured."""
    client = redis_client()
    if client is None:
        return None
    try:
        client.ping()
    except REDIS_ERRORS:
        return "unavailable"
    return "ok"
