"""Appending contents committed to before the twins' locks (twins.history.history_append_committed): the same
entries as history_append, catch-ups first, and the probes that spare asking a catch-up with nothing pending."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from ssi import jcs
from twins import history
from twins.history import TwinDeactivated, commit_content, history_append_committed, lock_twin
from twins.models import HistoryEntry
from twins.services import twin_create
from twins.verification import verify_twin


def committed(content: dict, ref_id: int | None = None) -> history.Committed:
    return commit_content(kind="reading", canonical=jcs.canonicalize(content), ref_id=ref_id)


def entries(twin) -> list[HistoryEntry]:
    return list(HistoryEntry.objects.filter(twin=twin).order_by("seq"))


@pytest.fixture
def kettle(alice):
    return twin_create(owner=alice, name="Kettle", reading_kind="temp", reading_unit="°C")


@pytest.fixture
def catch_up(monkeypatch):
    """A catch-up with one pending note per twin in `pending`, recording which twins it was asked about."""

    class CatchUp:
        def __init__(self) -> None:
            self.pending: set[int] = set()
            self.asked: list[int] = []

        def __call__(self, locked):
            self.asked.append(locked.pk)
            if locked.pk in self.pending:
                self.pending.discard(locked.pk)
                return [("note", {"note": "pending"}, None)]
            return []

    fake = CatchUp()
    # Alone: the features' catch-ups and probes (registered from their ready()) are set aside; a catch-up without a
    # probe is always asked, the safe default.
    monkeypatch.setattr(history, "_catch_ups", [fake])
    monkeypatch.setattr(history, "_probes", {})
    return fake


@pytest.mark.django_db
def test_each_twin_gets_its_entry_with_the_content_as_committed_and_it_verifies(grinder, kettle):
    contents = {grinder.pk: {"readings": [{"reading": 1, "value": 21.5}]}, kettle.pk: {"reading": 2, "value": 1e-07}}
    with transaction.atomic():
        history_append_committed(
            [
                (lock_twin(grinder), committed(contents[grinder.pk])),
                (lock_twin(kettle), committed(contents[kettle.pk], 2)),
            ]
        )
    for twin in (grinder, kettle):
        last = entries(twin)[-1]
        assert (last.kind, last.entry["content"]) == ("reading", contents[twin.pk])
        assert verify_twin(twin).ok
    assert entries(kettle)[-1].ref_id == 2


@pytest.mark.django_db
def test_what_a_catch_up_has_pending_comes_first(grinder, catch_up):
    catch_up.pending.add(grinder.pk)
    with transaction.atomic():
        history_append_committed([(lock_twin(grinder), committed({"value": 1}))])
    *_, note, reading = entries(grinder)
    assert (note.kind, note.entry["content"], reading.kind) == ("note", {"note": "pending"}, "reading")
    assert reading.seq == note.seq + 1
    assert verify_twin(grinder).ok


@pytest.mark.django_db
def test_a_deactivated_twin_refuses_and_a_twin_without_identity_records_nothing(grinder):
    with transaction.atomic():
        locked = lock_twin(grinder)
        locked.did = ""
        before = len(entries(grinder))
        history_append_committed([(locked, committed({"value": 1}))])
        assert len(entries(grinder)) == before
        locked.did = grinder.did
        locked.deactivated_at = grinder.created_at
        with pytest.raises(TwinDeactivated):
            history_append_committed([(locked, committed({"value": 1}))])


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="probes are SQL, asked on PostgreSQL")
def test_a_probe_that_says_nothing_is_pending_spares_asking_the_catch_up(grinder, kettle, catch_up):
    history.register_catch_up_probe(catch_up, f"t.id = {kettle.pk}")
    catch_up.pending.add(kettle.pk)
    with transaction.atomic():
        history_append_committed(
            [(lock_twin(grinder), committed({"value": 1})), (lock_twin(kettle), committed({"value": 2}))]
        )
    assert catch_up.asked == [kettle.pk]
    assert entries(kettle)[-2].kind == "note"
