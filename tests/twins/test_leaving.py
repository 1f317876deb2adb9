"""Nothing is written for a twin on its way to another instance (twins.leaving, issue 18): the signed history's one
seam (twins.history) refuses it under the twin's row lock, with 503 + Retry-After while it is leaving and 409 naming
the new host once it has moved; the twin's own fields (twins.services) likewise. After a thaw it takes writes again.

The moves app freezes and thaws (tests/moves/test_window.py goes through a whole move); here the core alone."""

from __future__ import annotations

import importlib
import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ssi import jcs
from tests.conftest import api_for, client_for
from twins import history, leaving
from twins import services as twin_services
from twins.history import (
    commit_content,
    history_append,
    history_append_committed,
    history_catch_up,
    lock_twin,
    lock_twin_for_append,
)
from twins.models import HistoryEntry, JournalNote, Reading, Twin
from twins.verification import verify_twin

NEW_HOST = "https://things.example.net"


def freeze(twin: Twin) -> Twin:
    """What moves.services.move_confirm does to the twin (in its own transaction here)."""
    with transaction.atomic():
        leaving.freeze(lock_twin(twin), destination_url=NEW_HOST + "/")
    return Twin.objects.get(pk=twin.pk)


def moved(twin: Twin, *, leaving_to: str = NEW_HOST) -> Twin:
    """What twins.moving.release leaves (``moved_to`` set, ``leaving_to`` kept); ``leaving_to=""``: a twin that
    moved before ``leaving_to`` existed."""
    Twin.objects.filter(pk=twin.pk).update(moved_to=NEW_HOST, leaving_to=leaving_to)
    return Twin.objects.get(pk=twin.pk)


def entry_count(twin: Twin) -> int:
    return HistoryEntry.objects.filter(twin=twin).count()


def assert_leaving_refusal(refusal: leaving.TwinLeaving, *, named: bool) -> None:
    """``named``: the words for the owner (the thing's services); else the seam's, for anyone (findings #10)."""
    assert refusal.status == 503 and refusal.retry_after == leaving.RETRY_AFTER
    assert "try again in a minute" in refusal.message.lower()
    if named:
        assert "things.example.net" in refusal.message and "Coffee grinder" in refusal.message
        assert refusal.extra["moving_to"] == NEW_HOST
    else:
        assert "moving to another host" in refusal.message
        assert "things.example.net" not in refusal.message and "Coffee grinder" not in refusal.message
        assert "moving_to" not in refusal.extra


@pytest.fixture
def catch_up(monkeypatch):
    """A catch-up holding one pending note per twin in `pending` (the features' own are set aside)."""

    class CatchUp:
        def __init__(self) -> None:
            self.pending: set[int] = set()

        def __call__(self, locked):
            if locked.pk in self.pending:
                self.pending.discard(locked.pk)
                return [("note", {"note": "pending"}, None)]
            return []

    fake = CatchUp()
    monkeypatch.setattr(history, "_catch_ups", [fake])
    monkeypatch.setattr(history, "_probes", {})
    return fake


@pytest.mark.django_db
def test_a_history_append_for_a_leaving_twin_is_refused_with_retry_after_and_words(grinder):
    before = entry_count(grinder)
    stale = Twin.objects.get(pk=grinder.pk)  # loaded before the confirmation: the seam reads the locked row
    freeze(grinder)
    with pytest.raises(leaving.TwinLeaving) as refused:
        history_append(twin=stale, kind=HistoryEntry.Kind.NOTE, content={"note": "late"})
    assert_leaving_refusal(refused.value, named=False)
    assert entry_count(grinder) == before


@pytest.mark.django_db
def test_a_reading_or_a_note_for_a_leaving_twin_leaves_no_row_behind(grinder, alice):
    freeze(grinder)
    with pytest.raises(leaving.TwinLeaving):
        twin_services.reading_add(twin=grinder, value=7, by=alice)
    with pytest.raises(leaving.TwinLeaving):
        twin_services.note_create(twin=grinder, title="Descaled", by=alice)
    assert not Reading.objects.filter(twin=grinder).exists()
    assert not JournalNote.objects.filter(twin=grinder).exists()


@pytest.mark.django_db
def test_after_a_thaw_the_twin_takes_writes_again_and_its_history_verifies(grinder, alice):
    freeze(grinder)
    leaving.thaw(grinder.pk)
    twin_services.reading_add(twin=grinder, value=7, by=alice)
    twin_services.note_create(twin=grinder, title="Descaled", by=alice)
    kinds = list(HistoryEntry.objects.filter(twin=grinder).order_by("seq").values_list("kind", flat=True))
    assert kinds[-2:] == [HistoryEntry.Kind.READING, HistoryEntry.Kind.NOTE]
    assert verify_twin(Twin.objects.get(pk=grinder.pk)).ok


@pytest.mark.django_db
@pytest.mark.parametrize("leaving_to", [NEW_HOST, ""], ids=["released", "moved-before-leaving_to"])
def test_a_history_append_for_a_twin_that_moved_is_refused_naming_the_new_host(grinder, leaving_to):
    moved(grinder, leaving_to=leaving_to)
    before = entry_count(grinder)
    with pytest.raises(leaving.TwinMoved) as refused:
        history_append(twin=grinder, kind=HistoryEntry.Kind.NOTE, content={"note": "late"})
    assert refused.value.status == 409 and refused.value.retry_after is None
    assert "moved to things.example.net" in refused.value.message  # public: its pages answer 308 there
    assert "Coffee grinder" not in refused.value.message
    assert refused.value.extra == {"moved_to": NEW_HOST}
    assert entry_count(grinder) == before


@pytest.mark.django_db
def test_the_hot_path_refuses_a_leaving_twin_from_the_row_it_locked_with_no_query_of_its_own(grinder, alice):
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    content = commit_content(kind="reading", canonical=jcs.canonicalize({"reading": 1, "value": 2}))
    freeze(grinder)
    before = entry_count(kettle)
    with transaction.atomic():
        locked = lock_twin_for_append(grinder)
        with pytest.raises(leaving.TwinLeaving):
            history_append_committed([(locked, content)])
    with transaction.atomic():
        locked = lock_twin_for_append(kettle)
        with CaptureQueriesContext(connection) as queries:
            history_append_committed([(locked, content)])
    # The check read a field of the row locked above: no query of the twins table in the append itself.
    assert not [q["sql"] for q in queries.captured_queries if Twin._meta.db_table in q["sql"].split("WHERE")[0]]
    assert entry_count(kettle) == before + 1


@pytest.mark.django_db
def test_a_catch_up_for_a_leaving_twin_appends_nothing_and_keeps_it_pending_until_a_thaw(grinder, alice, catch_up):
    freeze(grinder)
    before = entry_count(grinder)
    catch_up.pending.add(grinder.pk)
    assert history_catch_up(twin=grinder) == []  # a worker's flush or an export: no error, nothing written
    assert entry_count(grinder) == before and grinder.pk in catch_up.pending
    leaving.thaw(grinder.pk)
    twin_services.note_create(twin=grinder, title="Descaled", by=alice)
    assert grinder.pk not in catch_up.pending
    assert entry_count(grinder) == before + 2  # what was pending, then the note


@pytest.mark.django_db
def test_the_twins_own_fields_and_photo_are_refused_while_it_is_leaving(grinder):
    stale = Twin.objects.get(pk=grinder.pk)
    freeze(grinder)
    for write in (
        lambda: twin_services.twin_update(twin=stale, name="Renamed"),
        lambda: twin_services.twin_set_lost(twin=stale, lost=True),
        lambda: twin_services.twin_set_archived(twin=stale, archived=True),
        lambda: twin_services.twin_set_photo(twin=stale, photo=None),
    ):
        with pytest.raises(leaving.TwinLeaving) as refused:
            write()
        assert_leaving_refusal(refused.value, named=True)
    fresh = Twin.objects.get(pk=grinder.pk)
    assert (fresh.name, fresh.lost, fresh.archived_at) == ("Coffee grinder", False, None)


@pytest.mark.django_db
def test_an_edit_of_a_twin_loaded_before_a_thaw_does_not_write_its_old_move_state_back(grinder):
    loaded_while_leaving = freeze(grinder)
    leaving.thaw(grinder.pk)
    twin_services.twin_update(twin=loaded_while_leaving, name="Renamed")
    fresh = Twin.objects.get(pk=grinder.pk)
    assert fresh.name == "Renamed" and fresh.leaving_to == ""


# --- the race with the confirmation, on PostgreSQL (SQLite serializes writers: nothing to race) -------------------


def _wait_until_a_transaction_waits_for_a_lock() -> None:
    """Until another connection of this database waits for a row lock (pg_stat_activity); not a timing assert:
    the wait ends as soon as it is seen, and fails the test only if it never is."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("no transaction ever waited for the twin's lock")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serializes writers; the race needs PostgreSQL")
def test_a_write_racing_the_confirmation_waits_for_its_lock_and_is_then_refused(grinder):
    stale = Twin.objects.get(pk=grinder.pk)
    confirmed = threading.Event()
    release = threading.Event()
    outcome: list[object] = []

    def confirm() -> None:
        try:
            with transaction.atomic():
                leaving.freeze(lock_twin(grinder), destination_url=NEW_HOST)
                confirmed.set()
                release.wait(timeout=30)  # holds the lock while the write below queues for it
        finally:
            connection.close()

    def write() -> None:
        try:
            history_append(twin=stale, kind=HistoryEntry.Kind.NOTE, content={"note": "racing"})
            outcome.append("written")
        except leaving.TwinLeaving as exc:
            outcome.append(exc)
        finally:
            connection.close()

    confirmer = threading.Thread(target=confirm)
    confirmer.start()
    assert confirmed.wait(timeout=30)
    writer = threading.Thread(target=write)
    writer.start()
    _wait_until_a_transaction_waits_for_a_lock()
    release.set()
    confirmer.join(timeout=60)
    writer.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], leaving.TwinLeaving), outcome
    assert not HistoryEntry.objects.filter(twin=grinder, kind=HistoryEntry.Kind.NOTE).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serializes writers; the race needs PostgreSQL")
def test_a_write_holding_the_lock_commits_before_the_confirmation_reads_the_history(grinder):
    wrote = threading.Event()
    release = threading.Event()
    packed: list[list[str]] = []

    def write() -> None:
        try:
            with transaction.atomic():
                history_append(twin=grinder, kind=HistoryEntry.Kind.NOTE, content={"note": "first"})
                wrote.set()
                release.wait(timeout=30)  # the confirmation queues for the lock meanwhile
        finally:
            connection.close()

    def confirm() -> None:
        try:
            with transaction.atomic():
                locked = lock_twin(grinder)
                # What the package's history part reads under the confirmation's lock.
                packed.append(list(HistoryEntry.objects.filter(twin=locked).values_list("kind", flat=True)))
                leaving.freeze(locked, destination_url=NEW_HOST)
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    assert wrote.wait(timeout=30)
    confirmer = threading.Thread(target=confirm)
    confirmer.start()
    _wait_until_a_transaction_waits_for_a_lock()
    release.set()
    writer.join(timeout=60)
    confirmer.join(timeout=60)
    assert packed and HistoryEntry.Kind.NOTE in packed[0]
    with pytest.raises(leaving.TwinLeaving):
        history_append(twin=grinder, kind=HistoryEntry.Kind.NOTE, content={"note": "after"})


# --- the owner's pages and API (twins.not_live.NotLiveMiddleware) -------------------------------------------------


def assert_owner_refused(response) -> None:
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == str(leaving.RETRY_AFTER)
    text = response.content.decode()
    assert "on its way to things.example.net" in text and "cancel the move" in text


@pytest.mark.django_db
def test_the_owners_writes_to_a_leaving_things_pages_answer_503_with_words_and_touch_nothing(grinder, alice):
    freeze(grinder)
    client = client_for(alice)
    for path, data in (
        (f"/things/{grinder.slug}/readings/new/", {"value": "7"}),
        (f"/things/{grinder.slug}/journal/new/", {"title": "Descaled"}),
        (f"/things/{grinder.slug}/edit/", {"name": "Renamed"}),
        (f"/things/{grinder.slug}/tags/new/", {}),  # a feature's route: the same answer
    ):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(path, data)
        assert_owner_refused(response)
        assert "Try again shortly" in response.content.decode()  # the page, not JSON
        assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries), queries
    assert not Reading.objects.filter(twin=grinder).exists()
    assert not JournalNote.objects.filter(twin=grinder).exists()
    assert Twin.objects.get(pk=grinder.pk).name == "Coffee grinder"


@pytest.mark.django_db
@pytest.mark.parametrize("token", [True, False], ids=["token", "session"])
def test_the_owners_api_writes_to_a_leaving_thing_answer_503_json_with_retry_after(grinder, alice, token):
    freeze(grinder)
    api = api_for(alice, token=token)
    response = api.post(f"/api/things/{grinder.slug}/readings/", {"value": 7}, format="json")
    assert_owner_refused(response)
    assert response.json()["extra"]["moving_to"] == NEW_HOST
    response = api.delete(f"/api/things/{grinder.slug}/")
    assert_owner_refused(response)
    assert not Reading.objects.filter(twin=grinder).exists()


@pytest.mark.django_db
def test_the_owner_still_sees_a_leaving_thing_and_a_stranger_learns_nothing_of_the_move(grinder, alice, carol):
    freeze(grinder)
    assert client_for(alice).get(f"/things/{grinder.slug}/").status_code == 200
    assert api_for(alice).get(f"/api/things/{grinder.slug}/").status_code == 200
    stranger = client_for(carol).post(f"/things/{grinder.slug}/readings/new/", {"value": "7"})
    assert stranger.status_code == 404 and b"things.example.net" not in stranger.content
    stranger_api = api_for(carol, token=True).post(f"/api/things/{grinder.slug}/readings/", {"value": 7}, format="json")
    assert stranger_api.status_code == 404 and b"things.example.net" not in stranger_api.content


@pytest.mark.django_db
def test_after_a_thaw_the_owners_page_and_api_writes_go_through_again(grinder, alice):
    freeze(grinder)
    leaving.thaw(grinder.pk)
    assert client_for(alice).post(f"/things/{grinder.slug}/readings/new/", {"value": "7"}).status_code == 302
    api = api_for(alice, token=True)
    assert api.post(f"/api/things/{grinder.slug}/readings/", {"value": 8}, format="json").status_code == 201
    assert Reading.objects.filter(twin=grinder).count() == 2


@pytest.mark.django_db
def test_the_owner_can_still_export_a_leaving_thing_whose_catch_ups_hold_something(grinder, alice, catch_up):
    freeze(grinder)
    catch_up.pending.add(grinder.pk)  # the export catches up first: for a leaving thing that appends nothing
    response = client_for(alice).get(f"/things/{grinder.slug}/export.json")
    assert response.status_code == 200, response.content[:300]
    assert grinder.pk in catch_up.pending


@pytest.mark.django_db
def test_the_migration_marks_things_moved_before_leaving_to_existed_so_the_hot_path_refuses_them(grinder, alice):
    from django.apps import apps

    forwards = importlib.import_module("twins.migrations.0018_leaving_to_of_moved_twins").forwards
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    moved(grinder, leaving_to="")  # moved before 0017: leaving_to empty
    forwards(apps, None)
    assert Twin.objects.get(pk=grinder.pk).leaving_to == NEW_HOST
    assert Twin.objects.get(pk=kettle.pk).leaving_to == ""  # a thing that lives here stays as it is
    with transaction.atomic():
        with pytest.raises(leaving.TwinMoved):
            history_append_committed(
                [(lock_twin_for_append(grinder), commit_content(kind="reading", canonical=b'{"reading":1}'))]
            )
