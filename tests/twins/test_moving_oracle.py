"""The independent did:webvh implementation (the `did-webvh` package, its own crypto) reads a moving twin's log.

A twin's inception is portable, and the log its source keeps after a move (the move entries at the end: the same
SCID, the destination's domain) resolves under the new DID, as a resolver following the DID to its new host would
fetch it. The same change of DID in a log that was not incepted portable is refused by the oracle, so the check
above is one it makes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from did_webvh.core.resolver import ResolutionError
from did_webvh.history import load_local_history
from did_webvh.resolver import resolve_did

from owners.keys import owner_keys_ensure, owner_signing_key
from owners.models import OwnerKey
from ssi import webvh
from ssi.keys import SigningKey
from twins import moving, services
from twins.identity import agent_key, did_path, log_jsonl, twin_document

pytestmark = pytest.mark.django_db

A_DOMAIN, B_DOMAIN, B_URL = "source.example.com", "dest.example.com", "https://dest.example.com"


@pytest.fixture
def twin(settings, alice):
    settings.DID_DOMAIN, settings.SITE_URL = A_DOMAIN, "https://source.example.com"
    return services.twin_create(owner=alice, name="Espresso machine")


def write(tmp_path: Path, text: str) -> Path:
    assert text.strip(), "did-webvh hangs forever on an empty log"
    path = tmp_path / "did.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def oracle_load(path: Path):
    return asyncio.run(load_local_history(path, verify_proofs=True))


def oracle_resolve(did: str, path: Path):
    return asyncio.run(resolve_did(did, local_history=path))


def test_the_oracle_accepts_a_portable_inception(twin, tmp_path):
    state, meta = oracle_load(write(tmp_path, log_jsonl(twin)))
    assert state.params["portable"] is True
    assert meta.portable is True
    assert state.document_id == twin.did


def test_the_oracle_resolves_the_new_did_from_the_log_the_source_keeps_after_the_move(twin, alice, carol, tmp_path):
    keys = owner_keys_ensure(owner=carol)
    carol_current, carol_next = keys[OwnerKey.Role.CURRENT], keys[OwnerKey.Role.NEXT]
    entries = moving.move_entries(
        twin,
        by=alice,
        new_domain=B_DOMAIN,
        new_update_key=carol_current.public_multibase,
        new_next_key_hash=carol_next.next_key_hash,
        destination_url=B_URL,
    )
    moving.release(twin, entries=entries, destination_url=B_URL)
    new_did = entries[-1]["state"]["id"]
    assert new_did == twin.did.replace(f":{A_DOMAIN}:", f":{B_DOMAIN}:")
    path = write(tmp_path, log_jsonl(twin))

    state, meta = oracle_load(path)
    assert meta.version_number == 3
    assert state.document_id == new_did
    assert state.params["updateKeys"] == [carol_current.public_multibase]
    assert state.params["nextKeyHashes"] == [carol_next.next_key_hash]

    result = oracle_resolve(new_did, path)
    assert result.resolution_metadata is None, result.resolution_metadata
    assert result.document["id"] == new_did
    assert twin.did in result.document["alsoKnownAs"]
    assert result.document["verificationMethod"][0]["publicKeyMultibase"] == agent_key(twin).multibase
    didcomm = next(s for s in result.document["service"] if s["type"] == "did-communication")
    assert didcomm["serviceEndpoint"] == f"{B_URL}/didcomm/"
    # The old DID's log now ends at another DID: resolving the old one from it is refused, not silently answered.
    assert oracle_resolve(twin.did, path).resolution_metadata is not None


def test_the_oracle_refuses_the_same_move_in_a_log_that_was_not_incepted_portable(twin, alice, tmp_path, settings):
    signer = owner_signing_key(owner_keys_ensure(owner=alice)[OwnerKey.Role.CURRENT])
    agent = SigningKey.generate()
    template = webvh.make_did(webvh.SCID_PLACEHOLDER, A_DOMAIN, did_path(twin))
    state = webvh.create(
        signer=signer, domain=A_DOMAIN, path=did_path(twin), document=twin_document(template, agent), portable=False
    )
    moved = webvh.make_did(state.scid, B_DOMAIN, did_path(twin))
    entry = webvh.sign_entry(webvh.build_entry(state, document=twin_document(moved, agent, site_url=B_URL)), signer)
    with pytest.raises(webvh.LogError, match="not portable"):
        webvh.append_entry(state, entry)
    path = write(tmp_path, state.jsonl() + webvh.json_line(entry) + "\n")
    with pytest.raises(ResolutionError) as refused:
        oracle_load(path)
    assert refused.value.problem_details.type.endswith("#portability-disabled"), refused.value.problem_details
    assert oracle_resolve(moved, path).resolution_metadata is not None
