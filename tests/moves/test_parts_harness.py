"""The round trip every feature part is held to (issue 18), and what a package must never hold.

``move_round_trip`` exports a twin with the real :func:`twins.portability.twin_package`, deletes the originals
(the twin, and whatever owner-level rows the test names: on one test database the destination would otherwise
find the source's rows), and restores with the real :func:`twins.portability.twin_unpack` for another owner.

Until the twins app registers its own "twin" part (move-core), the ``twin_part`` fixture stands one in: just
enough of the twin (row, agent key, DID log, history) for the feature parts to restore onto. With the real part
registered the fixture does nothing, so the same tests then run the whole real package.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from django.apps import apps

from core import vault
from ssi.vault import VaultError
from twins import portability
from twins.models import DidLogEntry, HistoryEntry, Twin

SOURCE_URL = "https://old.example"
DESTINATION_URL = "http://testserver"


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _stand_in_export(twin: Twin) -> dict[str, Any]:
    return {
        "slug": twin.slug,
        "name": twin.name,
        "did": twin.did,
        "model_name": twin.model_name,
        "serial": twin.serial,
        "agent_key": base64.b64encode(vault.unseal(twin.agent_key_sealed)).decode() if twin.agent_key_sealed else "",
        "owner_since": twin.owner_since.isoformat() if twin.owner_since else None,
        "created_at": twin.created_at.isoformat(),
        "log": list(twin.did_log.order_by("version_number").values("version_number", "version_id", "line")),
        "history": [
            {**row, "time": row["time"].isoformat()}
            for row in twin.history.order_by("seq").values("seq", "kind", "time", "entry", "redacted", "ref_id")
        ],
    }


def _stand_in_restore(data: dict[str, Any], arrival: portability.Arrival) -> None:
    twin = Twin.objects.create(
        owner=arrival.owner,
        slug=data["slug"],
        name=data["name"],
        did=data["did"],
        model_name=data["model_name"],
        serial=data["serial"],
        agent_key_sealed=vault.seal(base64.b64decode(data["agent_key"])) if data["agent_key"] else None,
        owner_since=_when(data["owner_since"]),
        arriving=True,
    )
    Twin.objects.filter(pk=twin.pk).update(created_at=_when(data["created_at"]))
    DidLogEntry.objects.bulk_create(DidLogEntry(twin=twin, **row) for row in data["log"])
    HistoryEntry.objects.bulk_create(
        HistoryEntry(twin=twin, **{**row, "time": _when(row["time"])}) for row in data["history"]
    )
    twin.refresh_from_db()
    arrival.twin = twin


STAND_IN = portability.Part(name="twin", export=_stand_in_export, restore=_stand_in_restore)


@pytest.fixture
def twin_part() -> Iterator[portability.Part]:
    """The registered "twin" part, or the stand-in while the twins app has none (removed again afterwards)."""
    real = portability._PARTS.get("twin")
    if real is not None:
        yield real
        return
    portability._PARTS["twin"] = STAND_IN
    try:
        yield STAND_IN
    finally:
        portability._PARTS.pop("twin", None)


def through_json(value: Any) -> Any:
    """What the destination gets: the package after JSON (it travels encrypted, as JSON text)."""
    return json.loads(json.dumps(value))


def delete_twin(twin: Twin) -> None:
    """The twin and everything hanging on it (credentials first: their status list is PROTECTed from them)."""
    if apps.is_installed("credentials"):
        for name in ("OwnershipCredential", "AccessCredential"):
            apps.get_model("credentials", name).objects.filter(twin_id=twin.pk).delete()
    Twin.objects.filter(pk=twin.pk).delete()


def move_round_trip(twin: Twin, *, to_owner: Any, delete: Callable[[], None] | None = None) -> tuple[dict, Twin]:
    """Package ``twin``, delete it (and what ``delete`` removes), restore it for ``to_owner``: (package, new twin)."""
    package = through_json(portability.twin_package(twin))
    delete_twin(twin)
    if delete is not None:
        delete()
    restored = portability.twin_unpack(package, owner=to_owner, source_url=SOURCE_URL, destination_url=DESTINATION_URL)
    return package, Twin.objects.get(pk=restored.pk)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def sealed_blobs_in(value: Any) -> list[str]:
    """Every string in ``value`` that this instance's vault opens (a sealed blob of ours): there must be none, the
    destination cannot open them (its KEY_ENCRYPTION_KEY is another)."""
    found = []
    for text in _strings(value):
        if len(text) < 40:  # a sealed blob is a 24-byte nonce, a 16-byte tag and the secret
            continue
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(text + "=" * (-len(text) % 4))
            except (binascii.Error, ValueError):
                continue
            try:
                vault.unseal(raw)
            except (VaultError, ValueError, TypeError):
                continue
            found.append(text)
            break
    return found


def assert_portable(package: dict, part: str) -> None:
    """The part's data is plain JSON and holds no blob sealed under this instance's key."""
    assert part in package["parts"], f"the {part} part is not in the package"
    data = package["parts"][part]
    assert through_json(data) == data
    assert sealed_blobs_in(data) == []


# --- the harness's own checks ------------------------------------------------------------------------------


def test_the_sealed_blob_finder_finds_a_sealed_secret():
    sealed = vault.seal(b"whsec_a-secret-that-would-leak")
    package = {"parts": {"x": [{"deep": base64.b64encode(sealed).decode()}]}}
    assert sealed_blobs_in(package) == [base64.b64encode(sealed).decode()]
    assert sealed_blobs_in({"parts": {"x": base64.b64encode(b"not sealed, just long enough text").decode()}}) == []


def test_a_bare_twin_goes_and_comes_back(twin_part, grinder, bob):
    slug = grinder.slug
    package, restored = move_round_trip(grinder, to_owner=bob)
    assert restored.slug == slug and restored.owner == bob
    json.dumps(package)
    assert sealed_blobs_in(package) == []
