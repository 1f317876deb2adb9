"""Small messages are acknowledged once their readings commit; their history entry follows from the worker, and
nothing committed can be left out of the history: not by a lost task, nor by another append coming first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import TestCase

from ingest import history as pending_history
from ingest.models import HistoryFlush, PendingReadings
from twins import services as twin_services
from twins.models import HistoryEntry, Reading
from twins.verification import verify_twin


def reading_entries(twin) -> list[HistoryEntry]:
    return list(HistoryEntry.objects.filter(twin=twin, kind="reading").order_by("seq"))


def committed_readings(entries: list[HistoryEntry]) -> list[int]:
    """The reading ids the entries commit to, in history order."""
    ids = []
    for entry in entries:
        content = entry.entry["content"]
        ids += [r["reading"] for r in content["readings"]] if "readings" in content else [content["reading"]]
    return ids


def test_a_single_reading_is_acknowledged_before_its_history_entry_which_follows_after_commit(sender, grinder):
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        response = sender.post({"value": 7.5}, commit=False)
    assert response.status_code == 200
    reading = Reading.objects.get(twin=grinder)
    assert reading_entries(grinder) == []
    assert PendingReadings.objects.get(twin=grinder).reading_ids == [reading.pk]
    assert HistoryFlush.objects.filter(twin=grinder).exists()

    for callback in callbacks:
        callback()
    (entry,) = reading_entries(grinder)
    assert entry.ref_id == reading.pk and entry.entry["content"]["reading"] == reading.pk
    assert not PendingReadings.objects.exists() and not HistoryFlush.objects.exists()
    assert verify_twin(grinder).ok


def test_messages_while_a_flush_is_requested_leave_their_readings_to_it(sender, grinder):
    sender.post({"value": 1}, commit=False)  # its flush is requested but not run yet
    sender.post({"value": 2}, commit=False)
    sender.post({"value": 3}, commit=False)
    assert HistoryFlush.objects.count() == 1 and PendingReadings.objects.count() == 3

    assert pending_history.flush_histories.call() == 1
    (entry,) = reading_entries(grinder)
    assert [r["value"] for r in entry.entry["content"]["readings"]] == [1, 2, 3]
    assert committed_readings([entry]) == sorted(Reading.objects.values_list("pk", flat=True))
    assert verify_twin(grinder).ok


def test_a_lost_flush_is_requested_again_by_the_next_message_once_stale(sender, grinder):
    sender.post({"value": 1}, commit=False)  # the process "died" after COMMIT: the flush was never enqueued
    sender.post({"value": 2})  # a fresh request is pending: this message leaves its reading to it
    assert reading_entries(grinder) == []

    HistoryFlush.objects.update(requested_at=HistoryFlush.objects.get().requested_at - timedelta(minutes=2))
    sender.post({"value": 3})
    assert committed_readings(reading_entries(grinder)) == sorted(Reading.objects.values_list("pk", flat=True))
    assert not PendingReadings.objects.exists() and not HistoryFlush.objects.exists()


def test_a_flush_run_takes_every_thing_with_a_flush_request(sender, grinder, alice):
    from ingest import services as ingest_services

    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp")
    ingest_services.source_link_thing(source=sender.source, twin=kettle, external_id="kettle")
    sender.post({"thing": "kettle", "value": 90}, commit=False)  # its run was never scheduled

    sender.post({"thing": "acme-grinder-7", "value": 4})
    assert len(reading_entries(kettle)) == 1 and len(reading_entries(grinder)) == 1
    assert not HistoryFlush.objects.exists()


@pytest.fixture
def redis_settings(redis_client):
    client = redis_client
    client.delete(pending_history.QUEUED_KEY)
    yield client
    client.delete(pending_history.QUEUED_KEY)


def test_with_redis_a_queued_run_serves_every_thing_and_the_next_message_queues_the_next_run(
    sender, grinder, redis_settings
):
    redis_settings.set(pending_history.QUEUED_KEY, 1)  # a run is queued and has not started
    sender.post({"value": 1})
    assert reading_entries(grinder) == [] and HistoryFlush.objects.exists()

    assert pending_history.flush_histories.call() == 1  # the queued run starts: it takes the thing
    assert not redis_settings.exists(pending_history.QUEUED_KEY)
    sender.post({"value": 2})  # nothing queued now: this message queues (here: runs) the next run
    assert committed_readings(reading_entries(grinder)) == sorted(Reading.objects.values_list("pk", flat=True))
    assert not redis_settings.exists(pending_history.QUEUED_KEY)


def test_a_flush_that_fails_leaves_the_readings_pending_for_the_next_one(sender, grinder):
    def fail_on_history(execute, sql, params, many, context):
        if "twins_historyentry" in sql and sql.lstrip().upper().startswith("INSERT"):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    sender.post({"value": 1}, commit=False)
    with connection.execute_wrapper(fail_on_history):
        try:
            pending_history.readings_to_history(twin_id=grinder.pk)
        except OperationalError:
            pass
        else:
            raise AssertionError("the flush should have failed")
    assert reading_entries(grinder) == [] and PendingReadings.objects.count() == 1

    assert pending_history.readings_to_history(twin_id=grinder.pk) == 1
    assert len(reading_entries(grinder)) == 1 and not PendingReadings.objects.exists()


def test_any_other_append_first_takes_the_pending_readings(sender, grinder):
    sender.post({"value": 1}, commit=False)
    twin_services.note_create(twin=grinder, title="Descaled")
    kinds = list(HistoryEntry.objects.filter(twin=grinder).order_by("seq").values_list("kind", flat=True))
    assert kinds[-2:] == ["reading", "note"]
    assert not PendingReadings.objects.exists()
    # The flush that was requested finds nothing left to do.
    assert pending_history.flush_histories.call() == 0
    assert verify_twin(grinder).ok


def test_a_deactivation_appends_the_pending_readings_before_closing_the_history(sender, grinder):
    sender.post({"value": 1}, commit=False)
    twin_services.twin_deactivate(twin=grinder)
    kinds = list(HistoryEntry.objects.filter(twin=grinder).order_by("seq").values_list("kind", flat=True))
    assert kinds[-2:] == ["reading", "deactivated"]
    assert verify_twin(grinder).ok
    response = sender.post({"value": 2})
    assert response.status_code == 409
    assert Reading.objects.filter(twin=grinder).count() == 1


def test_pending_rows_of_a_deactivated_thing_are_let_go_by_the_flush(grinder):
    twin_services.twin_deactivate(twin=grinder)
    PendingReadings.objects.create(twin=grinder, reading_ids=[12345])
    HistoryFlush.objects.create(twin=grinder, requested_at=grinder.created_at)
    assert pending_history.readings_to_history(twin_id=grinder.pk) == 0
    assert not PendingReadings.objects.exists() and not HistoryFlush.objects.exists()
    assert pending_history.flush_histories.call() == 0


def test_a_deleted_reading_is_left_out_of_the_entry(sender, grinder):
    sender.post({"value": 1}, commit=False)
    sender.post({"value": 2}, commit=False)
    Reading.objects.filter(value=1).delete()
    pending_history.readings_to_history(twin_id=grinder.pk)
    (entry,) = reading_entries(grinder)
    assert entry.entry["content"]["value"] == 2


def test_the_command_appends_every_things_pending_readings(sender, grinder, capsys):
    sender.post({"value": 1}, commit=False)
    sender.post({"value": 2}, commit=False)
    call_command("ingest_history")
    assert "1 history entry appended" in capsys.readouterr().out
    assert len(committed_readings(reading_entries(grinder))) == 2
    assert not PendingReadings.objects.exists() and not HistoryFlush.objects.exists()


def test_a_batch_gets_its_history_entry_in_the_request(sender, grinder):
    count = pending_history.DEFER_AT_MOST + 1
    response = sender.post({"readings": [{"value": n} for n in range(count)]}, commit=False)
    assert response.status_code == 200
    (entry,) = reading_entries(grinder)
    assert len(entry.entry["content"]["readings"]) == count
    assert not PendingReadings.objects.exists() and not HistoryFlush.objects.exists()


class _RedisDown:
    def set(self, *args, **kwargs):
        import redis

        raise redis.ConnectionError("Connection refused")

    def delete(self, *args):
        import redis

        raise redis.ConnectionError("Connection refused")


def test_redis_failing_after_commit_still_answers_200_and_the_flush_runs(sender, grinder, monkeypatch):
    monkeypatch.setattr(pending_history, "redis_client", lambda: _RedisDown())
    response = sender.post({"value": 1})
    assert response.status_code == 200
    assert len(committed_readings(reading_entries(grinder))) == 1
    assert not PendingReadings.objects.exists() and not HistoryFlush.objects.exists()
