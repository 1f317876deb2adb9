"""A thing coming back to a host it left (A → B → A): it arrives beside the copy it left here, and the copy gives
way only when the thing goes live (review finding 3, session 12).

The copy gave way as the package arrived before, and a return called off after that could not be undone: the copy
was gone, its rows deleted or pointed at the arriving twin, and deleting the arriving twin hit the rows that PROTECT
what the copy had handed over (a credential's status list): the move retried its discard for ever. Now, in the
order :mod:`twins.moving` runs them:

1. :func:`arrive`: the whole package is restored once in a savepoint that is then rolled back, the copy giving way
   in it as it will at activation: a package this host would refuse is refused now, while the source still holds
   the thing, never after it let go. Then only the twin's row (under a slug of its own) and its DID log are stored,
   the arriving twin, beside the copy, which keeps its slug, its rows and its redirects; and the package itself,
   sealed under this instance's key (core.vault) in the default storage, until the move ends.
2. :func:`go_live` (twins.moving.activate): the copy gives way to the arrived twin and the package is restored into
   it, as a return restored it at arrival before; the stored package goes once that commits.
3. :func:`forget` (twins.moving.discard): the stored package goes; deleting the arriving twin (its row and its DID
   log) touches nothing of the copy's.

Why the package is kept rather than restored beside the copy: the thing's own rows are unique across this host by
what the package carries back (tag tokens and codes, DIDComm recipient keys, outbox message ids, the status list's
id), so two sets of them cannot stand together.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction

from core.vault import seal, unseal
from ssi.vault import VaultError
from twins.models import DidLogEntry, Twin
from twins.portability import PackageError, pointing_at, twin_unpack

# The parts the arriving twin has while it stands beside the copy: enough for the move's checks (its DID log
# names this host and the owner's key) and the owner's page; none of them unique across the host.
BESIDE = ("twin", "did_log")
_FOLDER = "tmp/returns"


class _Rehearsed(Exception):
    """Rolls back the rehearsal of a return's restore."""


def copy_here(package: Mapping[str, Any]) -> bool:
    """Whether the package's slug is held here by a copy of a thing that moved away: a return, if the package's
    DID log extends the copy's (the twin part checks that, twins.parts._returning_to)."""
    slug = (package.get("twin") or {}).get("slug") if isinstance(package, Mapping) else None
    return bool(slug) and Twin.objects.filter(slug=str(slug)).exclude(moved_to="").exists()


def _name(twin: Twin) -> str:
    return f"{_FOLDER}/{twin.pk}-{twin.slug}.sealed"


def arrive(package: Mapping[str, Any], *, owner: Any, source_url: str, destination_url: str) -> Twin:
    """Step 1 above: the arriving twin beside the copy; PackageError as the whole restore would raise it."""
    where = {"owner": owner, "source_url": source_url, "destination_url": destination_url}
    written: list[tuple[models.FileField, str]] = []
    try:
        with transaction.atomic():
            written = _files_of(twin_unpack(package, **where))
            raise _Rehearsed
    except _Rehearsed:
        pass
    _drop_unused(written)
    twin = twin_unpack(package, **where, only=BESIDE, copy_stays=True)
    kept = {"package": package, "source_url": source_url, "destination_url": destination_url}
    data = seal(zlib.compress(json.dumps(kept, separators=(",", ":")).encode()))
    name = _name(twin)
    default_storage.delete(name)  # a leftover of a rolled-back arrival that had the same id and slug
    default_storage.save(name, ContentFile(data))
    return twin


def _files_of(twin: Twin) -> list[tuple[models.FileField, str]]:
    """Every file the rows of ``twin`` name (its photo, its documents...): each FileField with its value."""
    found = []
    for model, column in [(Twin, "pk"), *pointing_at(Twin)]:
        fields = [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
        for field in fields:
            names = model._base_manager.filter(**{column: twin.pk}).exclude(**{field.attname: ""})
            found += [(field, name) for name in names.values_list(field.attname, flat=True) if name]
    return found


def _drop_unused(files: list[tuple[models.FileField, str]]) -> None:
    """After the rehearsal rolled back: the files it wrote that no row names (a file a row of the copy's names, which
    the rehearsal had pointed at the thing, stays)."""
    for field, name in files:
        if not field.model._base_manager.filter(**{field.attname: name}).exists():
            field.storage.delete(name)


def _kept(twin: Twin) -> dict[str, Any] | None:
    name = _name(twin)
    if not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as handle:
        sealed = handle.read()
    try:
        return json.loads(zlib.decompress(unseal(sealed)))
    except (VaultError, zlib.error, ValueError) as exc:
        raise PackageError(f"the package this return arrived with cannot be read here ({type(exc).__name__})") from None


def go_live(twin: Twin) -> bool:
    """Step 2 above, in the activation's transaction, ``twin`` locked; False when ``twin`` is no return beside a
    copy (nothing was kept for it). PackageError if the package no longer restores here."""
    name = _name(twin)  # before the twin takes the copy's slug
    kept = _kept(twin)
    if kept is None:
        if twin.did:
            return False
        # A return beside its copy (it has no DID here yet) whose package is gone: going live would leave a thing
        # with nothing but its name here, the copy still holding its slug. It stays arriving; the owner asks us.
        raise PackageError("the package it arrived with is no longer in this host's storage")
    DidLogEntry.objects.filter(twin=twin).delete()  # the whole package brings it again
    twin_unpack(
        kept["package"],
        owner=twin.owner,
        source_url=kept["source_url"],
        destination_url=kept["destination_url"],
        into=twin,
    )
    _drop(name)
    return True


def forget(twin: Twin) -> None:
    """Step 3 above: drop the package kept for ``twin`` once the transaction commits (nothing when none was)."""
    _drop(_name(twin))


def _drop(name: str) -> None:
    transaction.on_commit(lambda: default_storage.delete(name), robust=True)
