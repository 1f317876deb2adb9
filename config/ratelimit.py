"""Fixed-window rate limits in the cache (Redis in production, so all workers share the counters).

Counters are keyed by a hash of the client address and expire with their window: no IP is stored anywhere else.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        try:
            count, seconds = (int(part) for part in text.split("/"))
        except ValueError as exc:
            raise ImproperlyConfigured(f"A rate limit is 'count/seconds', not {text!r}") from exc
        return cls(count, seconds)


def client_id(request: HttpRequest) -> str:
    """The client's address, honouring TRUSTED_PROXY_COUNT proxies' X-Forwarded-For."""
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    return hashlib.sha256(f"{settings.SECRET_KEY}:{address}".encode()).hexdigest()[:32]


def hit(scope: str, key: str, limit: Limit | str) -> int | None:
    """Count one event; return None if allowed, else the seconds until the window resets."""
    if isinstance(limit, str):
        limit = Limit.parse(limit)
    window = int(time.time()) // limit.seconds
    cache_key = f"rl:{scope}:{key}:{window}"
    # add() is atomic on Redis and locmem: only the first request of a window creates the counter.
    if cache.add(cache_key, 1, timeout=limit.seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=limit.seconds + 1)
            count = 1
    if count > limit.count:
        return max(1, (window + 1) * limit.seconds - int(time.time()))
    return None
