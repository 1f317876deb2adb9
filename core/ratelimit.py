"""Fixed-window rate limits in the cache (Redis in production, so all workers share the counters).

Counters are keyed by a hash of the client address and expire with their window: no IP is stored anywhere else.

While Redis is unreachable, a limit does one of two things, chosen by its caller (`outage=`):
- LOCAL (the default): count in this process's memory instead. The limit still holds, per process (so looser by
  the number of workers), and the page keeps working: scans, typed codes, logins, the API.
- CLOSED: raise RateLimitUnavailable (the view answers 503 with Retry-After). For unauthenticated writes whose
  abuse reaches other people or cannot be undone cheaply: sign-up and password reset (mail to a victim's inbox).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

from core.redis import REDIS_ERRORS, redis_client

logger = logging.getLogger(__name__)

LOCAL = "local"
CLOSED = "closed"
# Counters of this process while Redis is unreachable (LOCAL limits).
_local = LocMemCache("core.ratelimit.outage", {"MAX_ENTRIES": 10_000})
# Seconds a CLOSED limit asks the client to wait: about how long a Redis restart takes.
OUTAGE_RETRY_AFTER = 30


class RateLimitUnavailable(Exception):
    """A CLOSED limit could not be counted (Redis unreachable): answer 503 with `retry_after`."""

    retry_after = OUTAGE_RETRY_AFTER


def _outage(scope: str, outage: str, exc: Exception) -> None:
    logger.warning("Rate limit %r counted without Redis (%s): %s", scope, outage, exc)
    if outage == CLOSED:
        raise RateLimitUnavailable from exc


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
    return secret_key_id(address)


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


def counter(scope: str, key: str, limit: Limit | str) -> tuple[str, int, int]:
    """The Redis key of the current window's counter of (scope, key), the window and now: for a caller that counts
    in a Lua script of its own (the scan's one round trip, tags.scan_buffer), then asks :func:`retry_after_for`."""
    if isinstance(limit, str):
        limit = Limit.parse(limit)
    window, now = _window(limit)
    return f"rl:{scope}:{key}:{window}", window, now


def retry_after_for(count: int, limit: Limit | str, window: int, now: int) -> int | None:
    """None if `count` events (this one included) are within `limit`, else the seconds until the window resets."""
    return _retry_after(count, Limit.parse(limit) if isinstance(limit, str) else limit, window, now)


def hit_during_outage(scope: str, key: str, limit: Limit | str, exc: Exception, *, outage: str = LOCAL) -> int | None:
    """Count one event while Redis is unreachable (after a caller's own script failed with `exc`), as `outage`
    says: see the module's docstring."""
    _outage(scope, outage, exc)
    return _hit_cache(scope, key, Limit.parse(limit) if isinstance(limit, str) else limit, store=_local)


def hit(scope: str, key: str, limit: Limit | str, *, outage: str = LOCAL) -> int | None:
    """Count one event; return None if allowed, else the seconds until the window resets."""
    return hit_many(scope, [(key, limit)], outage=outage)[0]


def hit_many(scope: str, events: list[tuple[str, Limit | str]], *, outage: str = LOCAL) -> list[int | None]:
    """Count one event for each (key, limit), in one Redis round trip; for each, None if allowed, else the seconds
    until its window resets. A key given several times counts each, in order (one INCRBY per key).
    While Redis is unreachable, `outage` decides (see the module's docstring)."""
    limits = [Limit.parse(limit) if isinstance(limit, str) else limit for _, limit in events]
    client = redis_client()
    if client is None:
        return [_hit_cache(scope, key, limit) for (key, _), limit in zip(events, limits, strict=True)]
    per_key: dict[tuple[str, Limit], list[int]] = {}
    for n, ((key, _), limit) in enumerate(zip(events, limits, strict=True)):
        per_key.setdefault((key, limit), []).append(n)
    pipe = client.pipeline(transaction=False)
    windows = [_count(pipe, scope, key, limit, len(indexes)) for (key, limit), indexes in per_key.items()]
    try:
        totals = pipe.execute()[::2]
    except REDIS_ERRORS as exc:
        _outage(scope, outage, exc)
        return [_hit_cache(scope, key, limit, store=_local) for (key, _), limit in zip(events, limits, strict=True)]
    answers: list[int | None] = [None] * len(events)
    for ((_, limit), indexes), total, (window, now) in zip(per_key.items(), totals, windows, strict=True):
        first = total - len(indexes) + 1  # the count the key's first event here brought it to
        for offset, n in enumerate(indexes):
            answers[n] = _retry_after(first + offset, limit, window, now)
    return answers


def _hit_cache(scope: str, key: str, limit: Limit, *, store=None) -> int | None:
    store = cache if store is None else store
    window, now = _window(limit)
    cache_key = f"rl:{scope}:{key}:{window}"
    # add() is atomic on locmem too: only the first request of a window creates the counter.
    if store.add(cache_key, 1, timeout=limit.seconds + 1):
        count = 1
    else:
        try:
            count = store.incr(cache_key)
        except ValueError:  # expired between add and incr
            store.set(cache_key, 1, timeout=limit.seconds + 1)
            count = 1
    return _retry_after(count, limit, window, now)


def peek(scope: str, key: str, limit: Limit | str) -> int | None:
    """Without counting: None if one more event is allowed, else the seconds until the window resets (so a
    budget spent only by failures can be checked before an attempt). Reads this process's counters while Redis
    is unreachable."""
    if isinstance(limit, str):
        limit = Limit.parse(limit)
    window, now = _window(limit)
    cache_key = f"rl:{scope}:{key}:{window}"
    client = redis_client()
    if client is None:
        count = cache.get(cache_key)
    else:
        try:
            count = client.get(cache_key)
        except REDIS_ERRORS:
            count = _local.get(cache_key)
    return _retry_after(int(count or 0) + 1, limit, window, now)


def secret_key_id(text: str) -> str:
    """A counter key for a secret or personal value (a username, an email address, a token): keyed, so the
    value cannot be read back from Redis."""
    return hashlib.sha256(f"{settings.SECRET_KEY}:{text}".encode()).hexdigest()[:32]


class ApiThrottle(BaseThrottle):
    """Every API view's throttle (REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES): per account, whether the request
    came with a session or a token, else per address (the schema, the only thing open to anonymous callers).

    DRF checks throttles after authentication and permissions, so it knows whom to count; a request refused
    before (a bad token, no login) costs at most one token lookup.
    """

    def allow_request(self, request, view) -> bool:
        user = request.user
        if user is not None and user.is_authenticated:
            self.retry_after = hit("api-user", str(user.pk), settings.RATE_API_PER_USER)
        else:
            self.retry_after = hit("api-client", client_id(request), settings.RATE_API_PER_CLIENT)
        return self.retry_after is None

    def wait(self) -> int | None:
        return self.retry_after


def wait_text(seconds: int) -> str:
    """'in 40 seconds', 'in 5 minutes': how long to wait, for a person."""
    if seconds < 90:
        return f"in {seconds} seconds"
    return f"in {round(seconds / 60)} minutes"
