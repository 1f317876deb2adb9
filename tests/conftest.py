"""Shared actors: alice (owner), bob (buyer or keeper), carol (stranger); and their things."""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from owners.models import Owner
from twins import services as twin_services
from twins.models import Twin

# -- Compiled modules are kept between runs, whatever PYTHONDONTWRITEBYTECODE says ----------------------------------
#
# With PYTHONDONTWRITEBYTECODE=1 in the environment (as on these machines), every run compiles the project's ~580
# modules and assertion-rewrites the ~450 test modules again: 25 CPU-s of the collection against 12.5 with the
# results kept, and 0.7 CPU-s more for every Django process a test starts (instances, workers, shells, manage.py,
# the architecture test's runs). Kept under .cache/pycache (git-ignored) through PYTHONPYCACHEPREFIX, so the tree
# gets no __pycache__ folders; a compiled module is used only while its source's mtime and size match (CPython's
# and pytest's own check). Set here, at the root conftest, before any test module is imported; the environment
# carries it to every process the tests start.
PYCACHE = Path(__file__).resolve().parent.parent / ".cache" / "pycache"
if sys.dont_write_bytecode and "PYTHONPYCACHEPREFIX" not in os.environ:
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(PYCACHE)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)

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


# -- A transactional test's flush: on PostgreSQL it empties only the tables written ------------------------------------
#
# Django's flush after a transactional test is one TRUNCATE of every table (~90 here, with ~440 indexes): PostgreSQL
# gives each table and index a new file and syncs them, 1.5 to 5 s a test on this machine, whatever the test wrote;
# then post_migrate creates the content types and permissions again (~90 queries). Most transactional tests write a
# handful of rows to a few tables: DELETE of those rows, then VACUUM of those tables (dead rows and index entries
# gone, as after a TRUNCATE), costs a few hundredths of a second. The result is checked: every table of the schema
# must be empty afterwards (the trigger-kept side tables too), or the real TRUNCATE runs. Tables with many rows
# (bulk-loading tests) also get the real TRUNCATE. Content types and permissions are left in place (no code of ours
# creates, changes or reads one) and post_migrate, which would find nothing to add, is skipped while their counts are
# those post_migrate left; otherwise it runs (the same on SQLite, whose flush is a DELETE per table already).
# Sequences are not reset either way (Django's flush leaves them too).

_PLAIN_TRUNCATE = re.compile(r'^TRUNCATE ((?:"[^"]+"(?:, )?)+);$')
_SMALL = 1000  # rows; a table with more is truncated (its dead rows would outweigh a TRUNCATE's cost)
_POST_MIGRATE_TABLES = ("django_content_type", "auth_permission")


class _UseTruncate(Exception):
    pass


class _FastFlush:
    """State of the fast flush: whether post_migrate has work after the last one, and the counts it leaves."""

    post_migrate_needed = True
    counts_after_post_migrate: tuple[int, ...] | None = None


def _rows_per_table(ops, cursor, tables: list[str] | tuple[str, ...]) -> dict[str, int]:
    """Each table's row count, capped at _SMALL + 1 (so a big table costs no full count)."""
    if not tables:
        return {}
    parts = [
        f"SELECT %s, (SELECT count(*) FROM (SELECT 1 FROM {ops.quote_name(t)} LIMIT {_SMALL + 1}) AS r)" for t in tables
    ]
    cursor.execute(" UNION ALL ".join(parts), list(tables))
    return dict(cursor.fetchall())


def _post_migrate_counts(ops, cursor) -> tuple[int, ...]:
    cursor.execute(" UNION ALL ".join(f"SELECT count(*) FROM {ops.quote_name(t)}" for t in _POST_MIGRATE_TABLES))
    return tuple(n for (n,) in cursor.fetchall())


def _schema_tables(cursor) -> list[str]:
    """Every table of the schema but the migration record and post_migrate's: models' tables and the trigger-kept
    side tables."""
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "AND c.relname <> 'django_migrations' AND c.relname <> ALL(%s)",
        [list(_POST_MIGRATE_TABLES)],
    )
    return [name for (name,) in cursor.fetchall()]


def _delete_then_vacuum(ops, sql_list: list[str]) -> bool:
    """Empty what the flush would empty with DELETE + VACUUM; False (nothing changed) when that cannot be done."""
    match = _PLAIN_TRUNCATE.match(sql_list[0]) if len(sql_list) == 1 else None
    conn = ops.connection
    if match is None or conn.in_atomic_block:
        return False
    try:
        with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
            everything = _schema_tables(cursor)
            rows = _rows_per_table(ops, cursor, everything)
            if any(n > _SMALL for n in rows.values()):
                raise _UseTruncate
            written = [t for t, n in rows.items() if n]
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for table in written:
                cursor.execute(f"DELETE FROM {ops.quote_name(table)}")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            if any(_rows_per_table(ops, cursor, everything).values()):
                raise _UseTruncate
            counts = _post_migrate_counts(ops, cursor)
    except (_UseTruncate, DatabaseError):
        return False
    _FastFlush.post_migrate_needed = counts != _FastFlush.counts_after_post_migrate
    if written:
        with conn.cursor() as cursor:
            cursor.execute("VACUUM " + ", ".join(ops.quote_name(t) for t in written))
    return True


@pytest.fixture(scope="session", autouse=True)
def _postgres_flush_deletes_what_was_written() -> Iterator[None]:
    from django.core.management.commands import flush
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQL
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLite

    # Through the backends' base modules: importing an operations module first is a circular import.
    DatabaseOperations, SQLiteOperations = PostgreSQL.ops_class, SQLite.ops_class

    truncate = DatabaseOperations.execute_sql_flush
    emit_post_migrate_signal = flush.emit_post_migrate_signal

    delete_each = SQLiteOperations.execute_sql_flush
    keep = {f"DELETE FROM {SQLiteOperations.quote_name(None, t)};" for t in _POST_MIGRATE_TABLES}

    def execute_sql_flush(self, sql_list: list[str]) -> None:
        if not _delete_then_vacuum(self, sql_list):
            _FastFlush.post_migrate_needed = True
            truncate(self, sql_list)

    def execute_sql_flush_sqlite(self, sql_list: list[str]) -> None:
        """SQLite's flush is a DELETE per table already; only post_migrate's rows stay (and its work is spared)."""
        delete_each(self, [sql for sql in sql_list if sql not in keep])
        with self.connection.cursor() as cursor:
            counts = _post_migrate_counts(self, cursor)
        _FastFlush.post_migrate_needed = counts != _FastFlush.counts_after_post_migrate

    def post_migrate_if_needed(verbosity: int, interactive: bool, db: str, **kwargs) -> None:
        ops = connections[db].ops
        if not isinstance(ops, DatabaseOperations | SQLiteOperations) or _FastFlush.post_migrate_needed:
            emit_post_migrate_signal(verbosity, interactive, db, **kwargs)
            if isinstance(ops, DatabaseOperations | SQLiteOperations):
                with connections[db].cursor() as cursor:
                    _FastFlush.counts_after_post_migrate = _post_migrate_counts(ops, cursor)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "execute_sql_flush", execute_sql_flush)
        patch.setattr(SQLiteOperations, "execute_sql_flush", execute_sql_flush_sqlite)
        patch.setattr(flush, "emit_post_migrate_signal", post_migrate_if_needed)
        yield


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
