"""makers.production.produce: batches all or nothing, produced twins exactly like twin_create'd ones."""

from __future__ import annotations

import pytest

from makers.claims import claim_code_hash
from makers.models import ProducedThing, ProductionBatch
from makers.production import ProductionRefused, produce
from owners.keys import thing_keys
from owners.models import OwnerKey
from ssi import history as chain
from ssi import webvh
from tags.models import Tag
from twins import events
from twins.history import history_entries
from twins.identity import log_state
from twins.models import DidLogEntry, HistoryEntry, Twin
from twins.services import twin_create
from twins.verification import verify_twin

pytestmark = pytest.mark.django_db


def test_a_batch_of_1000_makes_1000_twins_each_with_a_tag_a_did_log_and_a_claim_code(acme_model, dora):
    rows = produce(model=acme_model, serials=[f"SN{i:05d}" for i in range(1000)], by=dora)
    assert len(rows) == 1000
    assert len({code for _, code in rows}) == 1000
    account = acme_model.organisation.account
    assert Twin.objects.filter(owner=account).count() == 1000
    assert Tag.objects.filter(twin__owner=account, status=Tag.Status.ACTIVE).count() == 1000
    assert DidLogEntry.objects.filter(twin__owner=account).count() == 1000
    assert HistoryEntry.objects.filter(twin__owner=account, kind=HistoryEntry.Kind.CREATED).count() == 1000
    assert ProductionBatch.objects.get().count == 1000
    produced, code = rows[500]
    assert produced.serial == "SN00500"
    assert produced.claim_code_hash == claim_code_hash(code) and code not in produced.claim_code_hash
    twin = produced.twin
    assert (twin.model_name, twin.serial, twin.reading_kind, twin.reading_unit) == (
        "Grindmaster 3000",
        "SN00500",
        "grams",
        "g",
    )


def test_the_first_update_key_of_a_produced_twin_is_the_organisations_key_for_that_thing(acme_model):
    ((produced, _), (other, _)) = produce(model=acme_model, serials=["K1", "K2"], by=None)
    account = acme_model.organisation.account
    keys = {key.role: key for key in OwnerKey.objects.filter(owner=account, retired_at__isnull=True)}
    state = log_state(produced.twin)
    mine = thing_keys(keys, produced.twin.did)
    assert state.versions[0].update_keys == (mine.update_key,)
    assert state.next_key_hashes == (mine.next_key_hash,)
    # Not the organisation's root keys (its public DID names them), and not another thing's: a buyer of one thing
    # cannot pick out the maker's other things by their logs (review finding 5).
    assert mine.update_key != keys[OwnerKey.Role.CURRENT].public_multibase
    assert mine.next_key_hash != keys[OwnerKey.Role.NEXT].next_key_hash
    assert log_state(other.twin).versions[0].update_keys != (mine.update_key,)
    assert log_state(other.twin).next_key_hashes != (mine.next_key_hash,)


def test_a_produced_twin_verifies_exactly_as_a_twin_create_twin(acme_model):
    ((produced, _),) = produce(model=acme_model, serials=["V1"], by=None)
    made = twin_create(owner=acme_model.organisation.account, name="Grindmaster 3000", serial="V0")
    Tag.objects.create(twin=made)
    for twin in (produced.twin, made):
        twin.refresh_from_db()
        lines = list(DidLogEntry.objects.filter(twin=twin).order_by("version_number").values_list("line", flat=True))
        state = webvh.verify_log(lines)  # raises on any fault
        assert state.did == twin.did and twin.owner_since == twin.created_at
        entries = history_entries(twin)
        assert entries[0]["kind"] == "created" and entries[0]["content"] == {"name": "Grindmaster 3000"}
        assert entries[0]["prev_hash"] == chain.genesis_hash(state.scid)
        report = chain.verify_chain(entries, chain.KeySchedule.from_log(state), scid=state.scid)
        assert report.count == len(entries)
        verified = verify_twin(twin)  # the bundle a stranger checks: DID log and history together
        assert verified.ok, verified.problem
        agent = state.document["verificationMethod"][0]["publicKeyMultibase"]
        assert {entry["key"] for entry in entries} == {agent}
    kinds = [e["kind"] for e in history_entries(produced.twin)]
    assert kinds[:2] == ["created", "tag"]


def test_twin_created_is_sent_for_every_produced_twin(acme_model):
    heard = []
    events.subscribe(events.TwinCreated, heard.append, in_transaction=True)
    try:
        rows = produce(model=acme_model, serials=["E1", "E2", "E3"], by=None)
    finally:
        events.unsubscribe(events.TwinCreated, heard.append)
    assert [event.twin_id for event in heard] == [produced.twin_id for produced, _ in rows]


def test_duplicate_serials_within_the_batch_are_refused_naming_them_and_nothing_is_written(acme_model):
    with pytest.raises(ProductionRefused, match="more than once") as refused:
        produce(model=acme_model, serials=["A1", "A2", "A1", "A3", "A2"], by=None)
    assert refused.value.extra == {"duplicates": ["A1", "A2"]}
    assert not Twin.objects.exists() and not ProductionBatch.objects.exists()


def test_serials_already_produced_are_refused_naming_them_and_nothing_is_written(acme_model):
    produce(model=acme_model, serials=["B1", "B2"], by=None)
    before = Twin.objects.count(), Tag.objects.count(), HistoryEntry.objects.count()
    with pytest.raises(ProductionRefused, match="already produced") as refused:
        produce(model=acme_model, serials=["B3", "B2"], by=None)
    assert refused.value.extra == {"duplicates": ["B2"]}
    assert (Twin.objects.count(), Tag.objects.count(), HistoryEntry.objects.count()) == before
    assert ProducedThing.objects.count() == 2


@pytest.mark.parametrize("serials", [[], ["has space"], ["x" * 21], [""]])
def test_bad_serials_are_refused_before_anything_is_written(acme_model, serials):
    with pytest.raises(ProductionRefused):
        produce(model=acme_model, serials=serials, by=None)
    assert not Twin.objects.exists()
