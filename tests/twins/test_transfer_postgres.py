"""Real concurrent transactions on PostgreSQL: racing buyers, racing log writers, racing readings.

Each thread has its own database connection (Django opens one per thread) and closes it when done; a barrier
starts them together. SQLite serialises writers, so these races only mean something on PostgreSQL: the
PostgreSQL pass of the suite runs them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import IntegrityError, connection, transaction

from owners.keys import owner_keys_ensure, thing_keys
from ssi import webvh
from tests.conftest import run_together
from twins import services as twin_services
from twins.identity import log_state
from twins.models import DidLogEntry, HistoryEntry, Reading, TransferOffer, Twin
from twins.transfer import TransferRefused, offer_accept, offer_create
from twins.verification import verify_twin

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs PostgreSQL"
    ),
]


def test_two_buyers_accepting_the_same_offer_at_once_make_exactly_one_owner(alice, bob, carol, grinder):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    buyers = {"bob": bob, "carol": carol}
    keys = {name: thing_keys(owner_keys_ensure(owner=buyer), grinder.did).update_key for name, buyer in buyers.items()}

    def accept(buyer):
        return lambda: offer_accept(offer=TransferOffer.objects.get(pk=offer.pk), buyer=buyer)

    outcomes = dict(zip(buyers, run_together(*(accept(buyer) for buyer in buyers.values())), strict=True))

    winners = [name for name, (kind, _) in outcomes.items() if kind == "ok"]
    losers = [name for name, (kind, _) in outcomes.items() if kind == "error"]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    winner, loser = winners[0], losers[0]
    refusal = outcomes[loser][1]
    assert isinstance(refusal, TransferRefused), repr(refusal)
    assert refusal.status == 409, (refusal.status, refusal.message)
    assert refusal.message.strip(), "the refusal must say why"

    twin = Twin.objects.get(pk=grinder.pk)
    offer.refresh_from_db()
    assert twin.owner_id == buyers[winner].pk
    assert offer.status == TransferOffer.Status.COMPLETED
    assert offer.buyer_id == buyers[winner].pk

    # Inception + the two transfer entries; nothing from the loser.
    assert list(DidLogEntry.objects.filter(twin=twin).values_list("version_number", flat=True)) == [1, 2, 3]
    state = log_state(twin)
    assert state.update_keys == (keys[winner],)
    assert keys[loser] not in state.update_keys
    assert verify_twin(twin).ok


def test_the_did_log_refuses_a_second_entry_at_the_same_version_even_from_two_transactions(alice, grinder):
    version = log_state(grinder).version_number + 1
    both_saw_it_free = threading.Barrier(2)
    seen_free: list[bool] = []

    def insert(tag: str) -> Callable[[], int]:
        def job() -> int:
            with transaction.atomic():
                # Both transactions look first and find the version free: the race the constraint exists for.
                seen_free.append(not DidLogEntry.objects.filter(twin_id=grinder.pk, version_number=version).exists())
                both_saw_it_free.wait(timeout=30)
                row = DidLogEntry.objects.create(
                    twin_id=grinder.pk,
                    version_number=version,
                    version_id=f"{version}-{tag}",
                    line=webvh.json_line({"versionId": f"{version}-{tag}"}),
                )
                return row.pk

        return job

    outcomes = run_together(insert("first"), insert("second"))

    assert seen_free == [True, True]
    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"], outcomes
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, IntegrityError), repr(error)
    assert DidLogEntry.objects.filter(twin=grinder, version_number=version).count() == 1


def test_many_readings_added_at_once_make_one_unforked_history_that_verifies(grinder):
    threads, per_thread = 8, 5

    def add_readings(t: int) -> Callable[[], list[int]]:
        def job() -> list[int]:
            twin = Twin.objects.get(pk=grinder.pk)
            return [twin_services.reading_add(twin=twin, value=t * 10 + i).pk for i in range(per_thread)]

        return job

    outcomes = run_together(*(add_readings(t) for t in range(threads)))

    assert [kind for kind, _ in outcomes] == ["ok"] * threads, outcomes
    reading_ids = {pk for _, pks in outcomes for pk in pks}
    assert len(reading_ids) == threads * per_thread

    history = list(HistoryEntry.objects.filter(twin=grinder).order_by("seq"))
    # "created", what the features recorded at creation (an ownership credential), and every reading.
    total = HistoryEntry.objects.filter(twin=grinder).exclude(kind=HistoryEntry.Kind.READING).count()
    total += threads * per_thread
    assert [item.seq for item in history] == list(range(1, total + 1))
    assert [item.entry["seq"] for item in history] == list(range(1, total + 1))
    # No fork: every entry names its predecessor's hash (the verifier checks the hashes themselves).
    assert len({item.entry["prev_hash"] for item in history}) == total
    assert {item.ref_id for item in history if item.kind == HistoryEntry.Kind.READING} == reading_ids
    assert set(Reading.objects.filter(twin=grinder).values_list("pk", flat=True)) == reading_ids

    result = verify_twin(Twin.objects.get(pk=grinder.pk))
    assert result.ok, result.problem
    assert result.entries == total
    assert result.redacted == 0
