"""Batches through the whole write path (ingest.store), on either database: the "latest" update that rides on
the things' lock statement, and a thing's pending readings entering its history before the batch."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ingest.history import DEFER_AT_MOST
from ingest.models import PendingReadings
from twins.models import HistoryEntry, Reading
from twins.verification import verify_twin


def iso(t) -> str:
    return t.isoformat().replace("+00:00", "Z")


def batch(start, count: int = DEFER_AT_MOST + 1, step: timedelta = timedelta(seconds=1)) -> dict:
    return {"readings": [{"value": n, "time": iso(start + n * step)} for n in range(count)]}


def test_a_batch_moves_the_latest_to_its_newest_reading_and_an_older_batch_does_not(sender, grinder):
    now = timezone.now()
    assert sender.post(batch(now - timedelta(hours=1))).status_code == 200
    grinder.refresh_from_db()
    assert grinder.latest_value == DEFER_AT_MOST
    assert grinder.latest_at == now - timedelta(hours=1) + DEFER_AT_MOST * timedelta(seconds=1)
    assert sender.post(batch(now - timedelta(hours=5))).status_code == 200
    grinder.refresh_from_db()
    assert grinder.latest_value == DEFER_AT_MOST  # the older batch left it
    assert Reading.objects.filter(twin=grinder).count() == 2 * (DEFER_AT_MOST + 1)


def test_a_batch_of_readings_of_another_kind_leaves_the_latest(sender, grinder):
    payload = {"readings": [{"value": n, "kind": "other"} for n in range(DEFER_AT_MOST + 1)]}
    assert sender.post(payload).status_code == 200
    grinder.refresh_from_db()
    assert grinder.latest_value is None


def test_pending_readings_of_the_thing_enter_its_history_before_the_batch(sender, grinder):
    assert sender.post({"value": 7}, commit=False).status_code == 200  # its flush never runs
    (pending,) = PendingReadings.objects.filter(twin=grinder)
    assert sender.post(batch(timezone.now() - timedelta(minutes=5))).status_code == 200
    assert not PendingReadings.objects.exists()
    single, whole = HistoryEntry.objects.filter(twin=grinder, kind="reading").order_by("seq")
    assert single.entry["content"]["reading"] == pending.reading_ids[0]
    assert whole.seq == single.seq + 1 and len(whole.entry["content"]["readings"]) == DEFER_AT_MOST + 1
    assert verify_twin(grinder).ok
