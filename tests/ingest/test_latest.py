"""SECURITY 33, one rule on every path (twins.latest): an older reading never moves a thing's "latest", a reading of
the same time does, a newer one does. The web's reading_add and, on SQLite, every ingested message use
twins.latest.latest_advance; on PostgreSQL a batch folds twins.latest.ADVANCES_SQL into its lock statement and a
small message runs ingest_store_small, the mirror. Run on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ingest.history import DEFER_AT_MOST
from twins import latest
from twins import services as twin_services
from twins.models import Twin


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def by_web(sender, grinder: Twin) -> Callable[[float, datetime], None]:
    def write(value: float, time: datetime) -> None:
        twin_services.reading_add(twin=grinder, value=value, time=time)

    return write


def by_small_message(sender, grinder: Twin) -> Callable[[float, datetime], None]:
    def write(value: float, time: datetime) -> None:
        assert sender.post({"value": value, "time": iso(time)}).status_code == 200

    return write


def by_batch(sender, grinder: Twin) -> Callable[[float, datetime], None]:
    def write(value: float, time: datetime) -> None:
        # The newest of the batch is `value` at `time`; the others are older and of other values.
        older = [{"value": -n, "time": iso(time - timedelta(seconds=n))} for n in range(DEFER_AT_MOST, 0, -1)]
        assert sender.post({"readings": [*older, {"value": value, "time": iso(time)}]}).status_code == 200

    return write


@pytest.mark.parametrize("path", [by_web, by_small_message, by_batch])
def test_latest_ignores_an_older_reading_and_takes_an_equal_or_newer_one(path, sender, grinder):
    write = path(sender, grinder)
    start = timezone.now() - timedelta(hours=1)

    def latest_now() -> tuple[float | None, datetime | None]:
        grinder.refresh_from_db(fields=["latest_value", "latest_at"])
        return grinder.latest_value, grinder.latest_at

    write(1, start)
    assert latest_now() == (1, start)
    write(2, start - timedelta(seconds=1))
    assert latest_now() == (1, start), "an older reading moved the latest"
    write(3, start)
    assert latest_now() == (3, start), "a reading of the same time did not replace the latest"
    write(4, start + timedelta(minutes=10))
    assert latest_now() == (4, start + timedelta(minutes=10))


def test_every_path_keeps_the_latest_any_other_path_set(sender, grinder):
    start = timezone.now() - timedelta(hours=1)
    by_batch(sender, grinder)(1, start)
    by_web(sender, grinder)(2, start - timedelta(minutes=1))
    by_small_message(sender, grinder)(3, start - timedelta(minutes=2))
    grinder.refresh_from_db()
    assert grinder.latest_value == 1
    by_small_message(sender, grinder)(4, start)
    by_web(sender, grinder)(5, start - timedelta(seconds=1))
    grinder.refresh_from_db()
    assert grinder.latest_value == 4


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ingest_store_small exists on PostgreSQL only")
def test_ingest_store_small_states_the_rule_word_for_word(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'ingest_store_small'")
        (source,) = cursor.fetchone()
    assert latest.ADVANCES_SQL in source
