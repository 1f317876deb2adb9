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

from core.redis import redis_client


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


def _window(limit: Limit) -> tuple[int, int]:
    now = int(time.time())
    return now // limit.seconds, now


def _retry_after(count: int, limit: Limit, window: int, now: int) -> int | None:
    if count > limit.count:
        return max(1, (window + 1) * limit.seconds - now)
    return None


def _count(pipe, scope: str, key: str, limit: Limit, events: int = 1) -> tuple[int, int]:
    """Queue the count of `events` events on a Redis pipeline (its INCRBY's answer is the count after them); the
    window and now. INCRBY creates the counter; EXPIRE NX sets its lifetime only the first time."""
    window, now = _window(limit)
    cache_key = f"rl:{scope}:{key}:{window}"
    pipe.incrby(cache_key, events)
    pipe.expire(cache_key, limit.seconds + 1, nx=True)
    return window, now


def hit_with(
    scope: str, key: str, limit: Limit | str, *, also_get: str | None = None
) -> tuple[int | None, bytes | None]:
    """Count one event like :func:`hit`; with Redis, also GET `also_get` in the same round trip.

    Returns (retry_after or None, the value of `also_get` or None). The scan page uses it to learn in one round
    trip whether the finder is within their budget and what the cached page is.
    """
    if isinstance(limit, str):
        limit = Limit.parse(limit)
    client = redis_client()
    if client is None:
        return hit(scope, key, limit), None
    pipe = client.pipeline(transaction=False)
    window, now = _count(pipe, scope, key, limit)
    if also_get is not None:
        pipe.get(also_get)
    results = pipe.execute()
    return _retry_after(results[0], limit, window, now), results[2] if also_get is not None else None


def hit(scope: str, key: str, limit: Limit | str) -> int | None:
    """Count one event; return None if allowed, else the seconds until the window resets."""
    return hit_many(scope, [(key, limit)])[0]


def hit_many(scope: str, events: list[tuple[str, Limit | str]]) -> list[int | None]:
    """Count one event for each (key, limit), in one Redis round trip; for each, None if allowed, else the seconds
    until its window resets. A key given several times counts each, in order (one INCRBY per key)."""
    limits = [Limit.parse(limit) if isinstance(limit, str) else limit for _, limit in events]
    client = redis_client()
    if client is None:
        return [_hit_cache(scope, key, limit) for (key, _), limit in zip(events, limits, strict=True)]
    per_key: dict[tuple[str, Limit], list[int]] = {}
    for n, ((key, _), limit) in enumerate(zip(events, limits, strict=True)):
        per_key.setdefault((key, limit), []).append(n)
    pipe = client.pipeline(transaction=False)
    windows = [_count(pipe, scope, key, limit, len(indexes)) for (key, limit), indexes in per_key.items()]
    totals = pipe.execute()[::2]
    answers: list[int | None] = [None] * len(events)
    for ((_, limit), indexes), total, (window, now) in zip(per_key.items(), totals, windows, strict=True):
        first = total - len(indexes) + 1  # the count the key's first event here brought it to
        for offset, n in enumerate(indexes):
            answers[n] = _retry_after(first + offset, limit, window, now)
    return answers


def _hit_cache(scope: str, key: str, limit: Limit) -> int | None:
    window, now = _window(limit)
    cache_key = f"rl:{scope}:{key}:{window}"
    # add() is atomic on locmem too: only the first request of a window creates the counter.
    if cache.add(cache_key, 1, timeout=limit.seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=limit.seconds + 1)
            count = 1
    return _retry_after(count, limit, window, now)
