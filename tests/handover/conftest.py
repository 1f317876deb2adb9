"""A herd of alice's things to hand over, with DIDs a did:webvh resolver accepts (two-label domain)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from did_webvh.history import load_local_history
from did_webvh.resolver import resolve as oracle_resolve

from twins import services as twin_services
from twins.identity import log_jsonl
from twins.models import Twin


@pytest.fixture
def herd(settings, alice) -> list[Twin]:
    """Three of alice's things, each with a reading and a journal note, in id order."""
    settings.DID_DOMAIN = "example.com:8000"
    twins = []
    for name in ("Cow 1", "Cow 2", "Cow 3"):
        twin = twin_services.twin_create(owner=alice, name=name, reading_kind="weight", reading_unit="kg")
        twin_services.reading_add(twin=twin, value=400)
        twin_services.note_create(twin=twin, title=f"{name} vaccinated")
        twins.append(twin)
    return twins


def fresh(twins: list[Twin]) -> list[Twin]:
    return [Twin.objects.get(pk=twin.pk) for twin in twins]


def did_logs(twins: list[Twin]) -> dict[int, str]:
    """Every twin's DID log as served (did.jsonl), byte for byte."""
    return {twin.pk: log_jsonl(twin) for twin in twins}


def oracle_resolves(twin: Twin, tmp_path: Path) -> dict:
    """The twin's DID log checked by the independent did-webvh implementation: (document, parameters)."""
    path = tmp_path / f"{twin.slug}.jsonl"
    path.write_text(log_jsonl(twin))
    _, meta = asyncio.run(load_local_history(path, verify_proofs=True))
    result = asyncio.run(oracle_resolve(twin.did, local_history=path))
    serialized = result if isinstance(result, dict) else result.serialize()
    assert serialized["didDocument"]["id"] == twin.did, serialized
    return meta.serialize()
