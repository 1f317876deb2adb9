"""An independent did:webvh implementation (the `did-webvh` package, with its own crypto) as the oracle.

It resolves the twin's DID log as a stranger would: over HTTP, from the live test server, before and after
transfers. The DID's domain must have two labels (`example.com:PORT`); a small history resolver maps the
https://example.com:PORT/... URL the DID points to onto http://127.0.0.1:PORT/... where the live server
listens. The exported bundle is checked by the offline verifier (`python -m ssi.verify`) in a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from did_webvh.const import HISTORY_FILENAME, WITNESS_FILENAME
from did_webvh.core.file_utils import AsyncTextGenerator, read_url
from did_webvh.core.resolver import DidResolver
from did_webvh.history import WebvhHistoryResolver, did_base_url
from did_webvh.verify import WebvhVerifier

from owners.keys import owner_keys_ensure, owner_signing_key
from owners.models import OwnerKey
from ssi import webvh
from ssi.thing_keys import thing_key
from tests.conftest import client_for
from twins import services as twin_services
from twins.identity import agent_key
from twins.models import HistoryEntry, TransferOffer, Twin
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[2]
READINGS = 3


class LoopbackHistoryResolver(WebvhHistoryResolver):
    """did-webvh's own resolver, reading https://example.com:PORT/... from http://127.0.0.1:PORT/... instead."""

    def __init__(self, port: int) -> None:
        self.public = f"https://example.com:{port}/"
        self.loopback = f"http://127.0.0.1:{port}/"
        self.fetched: list[str] = []

    def _local(self, url: str) -> str:
        assert url.startswith(self.public), f"the DID maps to {url}, not to {self.public}"
        local = self.loopback + url.removeprefix(self.public)
        self.fetched.append(local)
        return local

    def resolve_entry_log(self, document_id: str) -> AsyncTextGenerator:
        return read_url(self._local(did_base_url(document_id) + HISTORY_FILENAME))

    def resolve_witness_log(self, document_id: str) -> AsyncTextGenerator:
        return read_url(self._local(did_base_url(document_id) + WITNESS_FILENAME))


@pytest.fixture
def port(live_server, settings) -> int:
    """The live server's port, with the DID domain set to example.com:PORT (before any twin is created)."""
    port = urlsplit(live_server.url).port
    settings.SITE_URL = f"http://example.com:{port}"
    settings.DID_DOMAIN = f"example.com:{port}"
    return port


@pytest.fixture
def twin(port, alice) -> Twin:
    twin = twin_services.twin_create(owner=alice, name="Espresso machine", reading_kind="pressure", reading_unit="bar")
    for value in range(READINGS):
        twin_services.reading_add(twin=twin, value=9 + value / 10)
    return twin


def http_get(port: int, path: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read().decode()


def oracle_resolve(port: int, twin: Twin, version_number: int | None = None) -> tuple[dict, dict, dict]:
    """(document, document metadata, parameters) of the twin's DID, as did-webvh resolves it over HTTP.

    `version_number`: an earlier version (did-webvh silently ignores an int here; it takes the string form).
    """
    version = {} if version_number is None else {"version_number": str(version_number)}
    # did-webvh hangs forever on an empty log: make sure the server has lines to give before asking it.
    status, _, text = http_get(port, f"/twins/{twin.slug}/did.jsonl")
    assert status == 200 and text.strip(), "the server serves an empty DID log"
    source = LoopbackHistoryResolver(port)

    async def run():
        resolver = DidResolver(WebvhVerifier(verify_proofs=True))
        result = await resolver.resolve(twin.did, source, **version)
        state, _ = await resolver.resolve_state(twin.did, source, **version)
        return result, state

    result, state = asyncio.run(run())
    assert source.fetched and all(url.startswith(f"http://127.0.0.1:{port}/") for url in source.fetched)
    assert result.resolution_metadata is None, result.resolution_metadata
    assert result.document["id"] == twin.did
    return result.document, result.document_metadata, state.params


def document_keys(document: dict) -> tuple[list[str], list[str]]:
    """(signing keys named by authentication and assertionMethod, key agreement keys) of a resolved document."""
    by_id = {vm["id"]: vm["publicKeyMultibase"] for vm in document["verificationMethod"]}
    signing = [by_id[ref] for ref in document["assertionMethod"]]
    assert [by_id[ref] for ref in document["authentication"]] == signing
    return signing, [by_id[ref] for ref in document["keyAgreement"]]


def assert_document_names_the_twins_agent_key(document: dict, twin: Twin) -> None:
    twin = Twin.objects.get(pk=twin.pk)
    agent = agent_key(twin)
    signing, agreement = document_keys(document)
    assert signing == [agent.multibase]
    assert agreement == [agent.to_x25519().public_key.multibase]


def keys_of(owner, twin: Twin) -> tuple[str, str, str]:
    """(current public key, next public key, hash of the next key) of an owner's platform-held keys for `twin`:
    derived per thing from the owner's roots and the twin's DID path (ssi.thing_keys)."""
    keys = owner_keys_ensure(owner=owner)
    current = thing_key(owner_signing_key(keys[OwnerKey.Role.CURRENT]), twin.did)
    upcoming = thing_key(owner_signing_key(keys[OwnerKey.Role.NEXT]), twin.did)
    return current.multibase, upcoming.multibase, webvh.next_key_hash(upcoming.multibase)


def sell(twin: Twin, seller, buyer, redact_kinds: list[str]) -> None:
    offer = offer_create(twin=Twin.objects.get(pk=twin.pk), seller=seller, redact_kinds=redact_kinds)
    offer = offer_accept(offer=offer, buyer=buyer)
    assert offer.status == TransferOffer.Status.COMPLETED
    assert Twin.objects.get(pk=twin.pk).owner_id == buyer.pk


def test_an_independent_did_webvh_resolver_follows_the_twin_through_two_transfers(port, twin, alice, bob, carol):
    assert twin.did.startswith("did:webvh:") and f":example.com%3A{port}:twins:{twin.slug}" in twin.did
    alice_current, alice_next, alice_next_hash = keys_of(alice, twin)
    bob_current, bob_next, bob_next_hash = keys_of(bob, twin)
    carol_current, _, carol_next_hash = keys_of(carol, twin)

    # Inception: alice's current key for this thing may update, her next key for it is pre-committed (pre-rotation
    # is on).
    document, meta, params = oracle_resolve(port, twin)
    assert meta["versionNumber"] == 1 and meta["deactivated"] is False
    assert params["updateKeys"] == [alice_current]
    assert params["nextKeyHashes"] == [alice_next_hash]
    assert_document_names_the_twins_agent_key(document, twin)
    agent_before = agent_key(twin).multibase

    # alice -> bob, on the platform-held keys.
    sell(twin, alice, bob, ["reading"])
    document, meta, params = oracle_resolve(port, twin)
    assert meta["versionNumber"] == 3
    assert params["updateKeys"] == [bob_current]
    assert params["nextKeyHashes"] == [bob_next_hash]
    assert_document_names_the_twins_agent_key(document, twin)
    assert agent_key(Twin.objects.get(pk=twin.pk)).multibase != agent_before
    # Version 2: signed by alice's revealed next key, which ends pre-rotation for the hand-over.
    _, meta, params = oracle_resolve(port, twin, version_number=2)
    assert meta["versionNumber"] == 2
    assert params["updateKeys"] == [alice_next]
    assert params["nextKeyHashes"] == []

    # bob -> carol: bob's pre-committed next key signs.
    sell(twin, bob, carol, [])
    document, meta, params = oracle_resolve(port, twin)
    assert meta["versionNumber"] == 5
    assert params["updateKeys"] == [carol_current]
    assert params["nextKeyHashes"] == [carol_next_hash]
    assert_document_names_the_twins_agent_key(document, twin)
    _, _, params = oracle_resolve(port, twin, version_number=4)
    assert params["updateKeys"] == [bob_next]
    assert params["nextKeyHashes"] == []


def test_did_json_is_the_did_web_form_of_the_current_document(port, twin, alice, bob):
    sell(twin, alice, bob, [])
    twin = Twin.objects.get(pk=twin.pk)
    webvh_document, _, _ = oracle_resolve(port, twin)

    status, content_type, text = http_get(port, f"/twins/{twin.slug}/did.json")
    assert status == 200
    assert content_type.startswith("application/did+json")
    document = json.loads(text)
    did_web = f"did:web:example.com%3A{port}:twins:{twin.slug}"
    assert document["id"] == did_web
    assert twin.did in document["alsoKnownAs"]
    assert "did:webvh:" not in json.dumps({k: v for k, v in document.items() if k != "alsoKnownAs"})
    assert all(
        vm["controller"] == did_web and vm["id"].startswith(did_web + "#") for vm in document["verificationMethod"]
    )
    assert_document_names_the_twins_agent_key(document, twin)
    assert document_keys(document) == document_keys(webvh_document)


def test_the_exported_bundle_verifies_offline_and_a_flipped_byte_names_the_broken_entry(
    port, twin, alice, bob, tmp_path
):
    sell(twin, alice, bob, ["reading"])
    bob_current, _, _ = keys_of(bob, twin)

    response = client_for(bob).get(f"/things/{twin.slug}/export.json")
    assert response.status_code == 200
    path = tmp_path / "bundle.json"
    path.write_bytes(response.content)
    bundle = json.loads(response.content)
    kinds = [entry["kind"] for entry in bundle["history"]]
    # Features record their own entries too (the ownership credentials: issued, revoked, issued).
    assert [kind for kind in kinds if kind != "credential"] == ["created", *["reading"] * READINGS, "transfer"]
    total, first_reading = len(kinds), kinds.index("reading") + 1
    assert all("content" not in entry for entry in bundle["history"] if entry["kind"] == "reading")
    assert HistoryEntry.objects.filter(twin=twin, redacted=True).count() == READINGS

    def verify(file: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ssi.verify", str(file)], cwd=REPO, capture_output=True, text=True, timeout=120
        )

    ok = verify(path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip() == f"OK: {total} entries, {READINGS} redacted, owner key {bob_current}"

    # One byte inside one entry's content_hash, for an entry that kept its content, a redacted one, the last one.
    text = path.read_text(encoding="utf-8")
    for seq in (1, first_reading, total):
        content_hash = bundle["history"][seq - 1]["content_hash"]
        assert text.count(content_hash) == 1
        at = text.index(content_hash) + len(content_hash) // 2
        flipped = text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]
        broken = tmp_path / f"broken-{seq}.json"
        broken.write_text(flipped, encoding="utf-8")
        failed = verify(broken)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert failed.stdout.startswith(f"FAIL: history entry {seq}:"), failed.stdout
