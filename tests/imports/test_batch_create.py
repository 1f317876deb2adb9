"""A batch's plain new things are made at once (twins_create_many, ownership_credentials_issue_new) and each ends
exactly as a twin_create'd thing: the same DID log (verified by did-webvh's own resolver), the same history, an
ownership credential that verifies, TwinCreated heard once per thing. A bad row still does not sink its batch."""

from __future__ import annotations

import asyncio

import pytest
from did_webvh.history import load_local_history

from credentials.models import OwnershipCredential
from imports.models import ImportedThing
from ssi import credentials as vc
from ssi import history as chain
from ssi import webvh
from tests.credentials.helpers import published_list, standing
from tests.imports.conftest import errors, run_import
from twins import events
from twins.history import history_entries
from twins.identity import log_jsonl, log_state
from twins.models import DidLogEntry, Twin
from twins.services import twin_create
from twins.verification import verify_twin

pytestmark = pytest.mark.django_db

HERD = "name,model,serial,external id,colour\n" + "".join(
    f"Cow {n},Holstein,C-{n:03d},cow-{n},black\n" for n in range(1, 6)
)


def _twin_create_twin(alice) -> Twin:
    return twin_create(owner=alice, name="Cow 0", model_name="Holstein", serial="C-000", attributes={"colour": "b"})


@pytest.mark.needs("credentials")
def test_each_thing_of_a_batch_ends_as_a_twin_create_thing_does(alice, tmp_path):
    reference = _twin_create_twin(alice)
    run = run_import(alice, HERD)
    assert run.created == 5 and run.failed == 0
    made = list(Twin.objects.filter(owner=alice, serial__startswith="C-").exclude(pk=reference.pk).order_by("pk"))
    assert [twin.serial for twin in made] == [f"C-{n:03d}" for n in range(1, 6)]  # in the file's order
    expected_kinds = [entry["kind"] for entry in history_entries(reference)]
    assert expected_kinds == ["created", "credential"]
    for twin in [reference, *made]:
        twin.refresh_from_db()
        assert twin.owner_since == twin.created_at
        assert DidLogEntry.objects.filter(twin=twin).count() == 1
        path = tmp_path / f"{twin.pk}.jsonl"
        path.write_text(log_jsonl(twin))
        _, meta = asyncio.run(load_local_history(path, verify_proofs=True))  # did-webvh's own verifier
        assert meta.version_number == 1
        state = webvh.verify_log(list(DidLogEntry.objects.filter(twin=twin).values_list("line", flat=True)))
        assert state.did == twin.did
        entries = history_entries(twin)
        assert [entry["kind"] for entry in entries] == expected_kinds
        assert entries[0]["content"] == {"name": twin.name}
        assert entries[0]["prev_hash"] == chain.genesis_hash(state.scid)
        assert entries[1]["content"]["action"] == "issued" and entries[1]["content"]["statusListIndex"] == 0
        report = chain.verify_chain(entries, chain.KeySchedule.from_log(state), scid=state.scid)
        assert report.count == 2
        verified = verify_twin(twin)
        assert verified.ok, verified.problem
        credential = standing(twin)
        assert credential.holder == alice and credential.status_index == 0
        assert entries[1]["content"]["credential"] == credential.id.urn
        doc = credential.data
        assert doc["credentialSubject"]["owns"] == twin.did and doc["credentialSubject"]["serial"] == twin.serial
        result = vc.verify_credential(
            doc, resolver=vc.log_resolver(log_state(twin)), status_lists=[published_list(credential)]
        )
        assert result.ok, result.line()
    assert OwnershipCredential.objects.filter(twin__in=made).count() == 5  # one each, none issued twice


def test_twin_created_is_heard_once_for_every_thing_of_a_batch(alice):
    heard = []
    events.subscribe(events.TwinCreated, heard.append, in_transaction=True)
    try:
        run_import(alice, HERD)
    finally:
        events.unsubscribe(events.TwinCreated, heard.append)
    made = list(Twin.objects.filter(owner=alice).order_by("pk").values_list("pk", flat=True))
    assert [event.twin_id for event in heard] == made and len(made) == 5
    assert {event.owner_id for event in heard} == {alice.pk}


def test_a_row_refused_only_when_made_does_not_sink_the_rest_of_its_batch(alice, bob):
    # cow-2 was imported by alice, then went to bob: the row plans a new thing, whose mapping the database refuses
    # (one per external id) only when the batch is made. The batch then goes row by row.
    sold = twin_create(owner=bob, name="Cow 2")
    ImportedThing.objects.create(owner=alice, external_id="cow-2", twin=sold)
    run = run_import(alice, "name,external id,colour\nCow 1,cow-1,black\nCow 2,cow-2,brown\nCow 3,cow-3,\n")
    assert (run.created, run.failed) == (2, 1)
    assert sorted(Twin.objects.filter(owner=alice).values_list("name", flat=True)) == ["Cow 1", "Cow 3"]
    assert errors(run, "apply") == [
        "row 3: another import made this row's thing at the same moment; import the file again to update it"
    ]
    for twin in Twin.objects.filter(owner=alice):
        assert verify_twin(twin).ok
        assert standing(twin).holder == alice
