"""Shared actors: alice (owner), bob (buyer or keeper), carol (stranger); and their things."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from owners.models import Owner
from twins import services as twin_services
from twins.models import Twin

PASSWORD = "correct horse battery staple"


@receiver(connection_created)
def _sqlite_readers_take_no_table_locks(sender, connection, **kwargs) -> None:
    """SQLite's in-memory test database is one shared cache for every thread's connection, with table-level locks
    that fail at once ("database table is locked") instead of waiting. Live tests have a server thread writing
    (an agent's messages arriving) while the test thread polls: readers that take no table locks let both go on.
    Writers still take turns. (On PostgreSQL, and on a file database, nothing of this applies.)"""
    if connection.vendor == "sqlite" and "mode=memory" in str(connection.settings_dict.get("NAME", "")):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")


def make_owner(username: str) -> Owner:
    owner = Owner(username=username, email=f"{username}@example.org")
    owner.set_password(PASSWORD)
    owner.save()
    return owner


@pytest.fixture(autouse=True)
def _isolate(settings, tmp_path):
    """Each test gets empty rate-limit counters and its own media folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db) -> Owner:
    return make_owner("alice")


@pytest.fixture
def bob(db) -> Owner:
    return make_owner("bob")


@pytest.fixture
def carol(db) -> Owner:
    return make_owner("carol")


@pytest.fixture
def grinder(alice) -> Twin:
    return twin_services.twin_create(
        owner=alice, name="Coffee grinder", icon="coffee", reading_kind="grind", reading_unit="setting"
    )


@pytest.fixture
def grinder_tag(grinder):
    from tags.models import Tag  # here, not at the top: the core's tests also run without the tags app

    return Tag.objects.create(twin=grinder)


def client_for(owner: Owner | None) -> Client:
    client = Client()
    if owner is not None:
        client.force_login(owner)
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    return client_for(alice)


@pytest.fixture
def carol_client(carol) -> Client:
    return client_for(carol)


@pytest.fixture
def anon_client() -> Client:
    return Client()


def run_together(*jobs: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Run every job in its own thread (and database connection), released at the same instant.

    Returns ("ok", result) or ("error", exception) per job, in the jobs' order.
    """
    barrier = threading.Barrier(len(jobs))
    outcomes: list[tuple[str, Any]] = [("missing", None)] * len(jobs)

    def worker(i: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[i] = ("ok", job())
        except BaseException as exc:  # reported to the test thread
            outcomes[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return outcomes


def pytest_collection_modifyitems(config, items) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main thread for the rest
    of the session, and tests that drive asyncio themselves (the did-webvh oracle) must come before it.

    `@pytest.mark.needs("tags")`: the test needs that feature app. Every app is installed in `make test`; the
    architecture test runs the core's tests with one feature left out (config/settings_without.py), where such a
    test has nothing to test."""
    from django.apps import apps

    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    for item in items:
        if on_postgres and item.get_closest_marker("own_databases") is not None:
            item.add_marker(pytest.mark.skip(reason="own SQLite instances: ran unchanged in the SQLite pass"))
        for mark in item.iter_markers("needs"):
            missing = [name for name in mark.args if not apps.is_installed(name)]
            if missing:
                item.add_marker(pytest.mark.skip(reason=f"needs the {', '.join(missing)} app, left out here"))


# API clients for the shared actors: session by default, token where the test says so.


def api_for(owner: Owner | None, *, token: bool = False) -> APIClient:
    client = APIClient()
    if owner is not None and token:
        key = Token.objects.get_or_create(user=owner)[0].key
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    elif owner is not None:
        client.force_login(owner)
    return client


@pytest.fixture
def alice_api(alice) -> APIClient:
    return api_for(alice)


@pytest.fixture
def carol_api(carol) -> APIClient:
    return api_for(carol)


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


# Redis configured but not answering (a closed port): the shared server is never stopped.
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings):
    from core import ratelimit

    before = settings.REDIS_URL, settings.CACHES
    settings.REDIS_URL = DEAD_REDIS
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD_REDIS}}
    ratelimit._local.clear()  # the per-process counters of an outage, left by another test
    yield
    # Restored here, before _isolate clears the cache.
    settings.REDIS_URL, settings.CACHES = before
