"""The write path's shortcuts stay exactly what they stand for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from ingest.store import batch_content
from ssi import jcs
from twins.models import Reading
from twins.services import new_reading, reading_content


def reading(pk: int, value: float, *, kind: str = "temp", unit: str = "°C", **extra) -> Reading:
    time = datetime(2026, 11, 21, 10, 0, tzinfo=timezone(timedelta(hours=1))) + timedelta(seconds=pk)
    return new_reading(id=pk, twin_id=1, kind=kind, value=value, unit=unit, time=time, source="api", **extra)


def test_batch_content_is_exactly_the_content_of_each_reading():
    readings = [
        reading(1, 21.5),
        reading(2, 20.0),
        reading(3, -0.25, kind="humidity", unit="%"),
        reading(4, 1e-05, unit="🌡"),
        reading(5, 2.0**53 - 1),
        reading(
            6,
            3.0,
            device_signed=True,
            device_key="z6MkDevice",
            signature="uSig",
            signed_content={"value": 3, "time": "2026-11-21T10:00:06+01:00"},
        ),
    ]
    items, _ = batch_content(readings)
    assert items == [reading_content(r) for r in readings]


def test_batch_content_says_plain_only_when_jcs_would_take_its_fast_path():
    cases = [
        [reading(1, 21.5), reading(2, 20.0)],
        [reading(1, 21.5), reading(2, 1e-05)],
        [reading(1, 21.5, unit="🌡")],
        [reading(1, 21.5, kind="température")],
        [reading(1, 3.0, device_signed=True, device_key="z6Mk", signature="u", signed_content={"value": 3})],
    ]
    for readings in cases:
        items, plain = batch_content(readings)
        content = {"content": {"readings": items}, "salt": "s"}
        if plain:
            assert jcs.canonicalize(content, simple=True) == jcs.canonicalize(content), readings
    assert [batch_content(readings)[1] for readings in cases] == [True, False, False, True, False]


def test_times_keep_the_offset_they_came_with():
    items, _ = batch_content(
        [
            reading(1, 1.5),
            new_reading(
                id=2, twin_id=1, kind="k", value=1.5, unit="", time=datetime(2026, 1, 1, tzinfo=UTC), source="api"
            ),
        ]
    )
    assert items[0]["time"].endswith("+01:00") and items[1]["time"].endswith("+00:00")
