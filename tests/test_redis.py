"""Production wiring with REDIS_URL: the Channels layer and the cache talk to the real Redis on loopback."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync

from tests.redis_dbs import redis_url

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", redis_url(15))


def test_redis_url_switches_channel_layer_and_cache_to_redis():
    code = (
        "from django.conf import settings as s;"
        "print(s.CHANNEL_LAYERS['default']['BACKEND'], s.CACHES['default']['BACKEND'])"
    )
    env = {**os.environ, "DEBUG": "1", "REDIS_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "channels_redis.core.RedisChannelLayer",
        "django.core.cache.backends.redis.RedisCache",
    ]


def test_redis_channel_layer_delivers_group_messages():
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[REDIS_URL])
    group = f"test-{uuid.uuid4().hex}"

    async def round_trip():
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        await layer.group_send(group, {"type": "twin.updated", "slug": "abc"})
        message = await layer.receive(channel)
        await layer.group_discard(group, channel)
        await layer.flush()
        return message

    assert async_to_sync(round_trip)() == {"type": "twin.updated", "slug": "abc"}


def test_rate_limits_are_shared_through_the_redis_cache(settings):
    from django.core.cache import caches

    from core.ratelimit import hit

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
    }
    caches["default"].clear()
    key = uuid.uuid4().hex
    assert [hit("test", key, "2/60") for _ in range(2)] == [None, None]
    assert hit("test", key, "2/60") is not None


@pytest.fixture(autouse=True)
def _redis_is_up():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: start it (see README, Running the tests): {exc}")


@pytest.mark.parametrize("counted_in", ["redis", "cache"])
def test_events_counted_together_get_the_answers_they_would_get_one_by_one(settings, counted_in):
    from core.ratelimit import hit, hit_many

    settings.REDIS_URL = REDIS_URL if counted_in == "redis" else ""
    a, b = uuid.uuid4().hex, uuid.uuid4().hex
    events = [(a, "3/60"), (b, "1/60"), (a, "3/60"), (a, "3/60"), (b, "1/60"), (a, "3/60")]
    answers = hit_many("test", events)
    assert [answer is None for answer in answers] == [True, True, True, True, False, False]
    assert all(0 < answer <= 60 for answer in answers[4:])
    assert hit("test", a, "3/60") is not None and hit("test", uuid.uuid4().hex, "3/60") is None
