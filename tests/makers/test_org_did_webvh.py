"""The organisation's DID log, resolved by the independent `did-webvh` package over HTTP from the live server,
after creation and after two key rotations (the same loopback resolver as tests/twins/test_did_webvh_oracle.py)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
from did_webvh.core.resolver import DidResolver
from did_webvh.verify import WebvhVerifier

from makers import orgs
from makers.models import Organisation
from owners.keys import owner_keys_ensure
from owners.models import OwnerKey
from tests.makers.conftest import organisation_make
from tests.twins.test_did_webvh_oracle import LoopbackHistoryResolver, document_keys, http_get

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def port(live_server, settings) -> int:
    port = urlsplit(live_server.url).port
    settings.SITE_URL = f"http://example.com:{port}"
    settings.DID_DOMAIN = f"example.com:{port}"
    return port


def resolve(port: int, organisation: Organisation, version_number: int | None = None) -> tuple[dict, dict, dict]:
    """(document, metadata, parameters) as did-webvh resolves the organisation's DID over HTTP."""
    version = {} if version_number is None else {"version_number": str(version_number)}
    # did-webvh hangs forever on an empty log: make sure there are lines first.
    status, content_type, text = http_get(port, f"/orgs/{organisation.slug}/did.jsonl")
    assert status == 200 and text.strip() and content_type.startswith("application/jsonl")
    source = LoopbackHistoryResolver(port)

    async def run():
        resolver = DidResolver(WebvhVerifier(verify_proofs=True))
        result = await resolver.resolve(organisation.did, source, **version)
        state, _ = await resolver.resolve_state(organisation.did, source, **version)
        return result, state

    result, state = asyncio.run(run())
    assert source.fetched
    assert result.resolution_metadata is None, result.resolution_metadata
    assert result.document["id"] == organisation.did
    return result.document, result.document_metadata, state.params


def keys(organisation: Organisation) -> tuple[str, str, str]:
    active = owner_keys_ensure(owner=organisation.account)
    current, upcoming = active[OwnerKey.Role.CURRENT], active[OwnerKey.Role.NEXT]
    return current.public_multibase, upcoming.public_multibase, upcoming.next_key_hash


def test_did_webvh_resolves_the_organisation_after_creation_and_two_rotations(port, dora):
    organisation = organisation_make(slug="acme", name="Acme Grinders", admin=dora)
    assert f":example.com%3A{port}:orgs:acme" in organisation.did
    current, _, upcoming_hash = keys(organisation)

    document, meta, params = resolve(port, organisation)
    assert meta["versionNumber"] == 1
    assert params["updateKeys"] == [current]
    assert params["nextKeyHashes"] == [upcoming_hash]
    signing, agreement = document_keys(document)
    assert len(signing) == 1 and len(agreement) == 1
    assert document["service"][0]["serviceEndpoint"] == f"http://example.com:{port}/didcomm/"

    revealed = []
    for expected_version in (2, 3):
        _, before_next, _ = keys(organisation)
        orgs.organisation_keys_rotate(organisation=organisation, by=dora)
        revealed.append(before_next)
        _, _, fresh_hash = keys(organisation)
        rotated, meta, params = resolve(port, organisation)
        assert meta["versionNumber"] == expected_version
        assert params["updateKeys"] == [before_next]
        assert params["nextKeyHashes"] == [fresh_hash]
        assert document_keys(rotated) == (signing, agreement)

    _, meta, params = resolve(port, organisation, version_number=2)
    assert meta["versionNumber"] == 2 and params["updateKeys"] == [revealed[0]]
