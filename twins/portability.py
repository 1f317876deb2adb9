"""Moving a twin to another instance: what each app puts into the package, and how it puts it back.

A twin that moves takes everything with it (issue 18): its DID log, signed history, readings, journal, photos,
tags, credentials, grants, connections, support cases, delivery log. No one module knows all of that, and the
core may not import the features, so each app that keeps data about a twin contributes a :class:`Part` from a
module of its own, ``<app>/portability.py``, which calls :func:`register` at import; :func:`autodiscover`
imports every installed app's module once (TwinsConfig.ready).

The package is plain JSON (:func:`twin_package`): ``{"format", "twin": {"slug", "did"}, "parts": {name: data}}``.
Bytes travel as standard base64 strings; private keys travel UNSEALED (the destination seals them under its
own key-encryption key), so a package is secret as a whole: it only ever leaves the process encrypted to a key
of the destination instance (the moves app), and is never logged or shown.

:func:`twin_unpack` restores a package in one transaction on the destination: every part in dependency order
(``after`` names the parts that must be restored first), or nothing. A package naming a part this instance does
not have is refused before anything is written (data would otherwise be lost on the way).

Cross-part references (a grant that goes over a connection, a support case about a connection) go through the
:class:`Arrival`: a part remembers what it created under the source's primary key (:meth:`Arrival.remember`)
and a later part looks it up (:meth:`Arrival.lookup`). Primary keys never carry over; slugs, DIDs, message ids
and tag tokens do (they are in printed tags, DID logs and other agents' records).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import DataError, IntegrityError, transaction

log = logging.getLogger(__name__)

PACKAGE_FORMAT = "thingstead-move/1"
ANY = "*"  # in Part.after: after every other part


class PackageError(ValueError):
    """The package cannot be restored here; ``str(exc)`` says why (nothing was written)."""


@dataclass
class Arrival:
    """What a restore knows while it runs: the twin being restored (set by the first part, "twin"), its new owner
    on this instance, the source's and this instance's base URLs, and the source-pk → new-object map."""

    owner: Any
    source_url: str
    destination_url: str
    twin: Any = None
    _objects: dict[tuple[str, Any], Any] = field(default_factory=dict)
    # Every part's data as it arrived (read only): a part that must check another's data before it writes (the
    # twin part verifies the DID log before a copy left here gives way to the thing coming back) reads it here.
    given: Mapping[str, Any] = field(default_factory=dict)
    # A thing coming back to a host it left (A → B → A) arrives beside the copy it left here, which stays until the
    # thing goes live (twins.moving.activate): only then does the copy give way (give_way), so a return called off
    # before leaves the copy as it was (review finding 3, session 12). False: the copy gives way in this restore.
    copy_stays: bool = False

    def remember(self, label: str, old_pk: Any, obj: Any) -> None:
        """Record that the source's ``label`` object (``"app.Model"``) with primary key ``old_pk`` is now ``obj``."""
        self._objects[(label, str(old_pk))] = obj

    def lookup(self, label: str, old_pk: Any) -> Any:
        """The object restored for the source's ``label``/``old_pk``; None if there was none (or ``old_pk`` is None)."""
        if old_pk is None:
            return None
        return self._objects.get((label, str(old_pk)))


@dataclass(frozen=True)
class Part:
    """One app's share of a twin.

    ``export(twin)`` returns JSON-serialisable data (None or an empty list: nothing to move);
    ``restore(data, arrival)`` writes it back on the destination (inside the restore's transaction; raise
    :class:`PackageError` for data it cannot take). ``after``: the names of parts restored before this one;
    ``"*"`` among them: after every part that does not name ``"*"``. ``what``: the part's data in words, for the
    refusal :func:`twin_unpack` gives when ``restore`` finds the data not in the form ``export`` writes (a missing
    key, a wrong type, a bad date: KeyError, IndexError, TypeError, ValueError, AttributeError), so no part needs
    its own guard. ``replaces``: see :func:`give_way`.
    """

    name: str
    export: Callable[[Any], Any]
    restore: Callable[[Any, Arrival], None]
    after: tuple[str, ...] = ()
    what: str = ""
    # The models ("app.Model") of the rows about the twin that this part restores: when the thing comes back to a
    # host it left, these rows of the copy it left give way (the package brings the thing's own). See give_way.
    replaces: tuple[str, ...] = ()


_PARTS: dict[str, Part] = {}


def register(part: Part) -> None:
    """Add a part (idempotent for the same part object; a second, different part under one name is a bug)."""
    existing = _PARTS.get(part.name)
    if existing is not None and existing != part:
        raise ValueError(f"a portability part named {part.name!r} is already registered")
    _PARTS[part.name] = part


def autodiscover() -> None:
    """Import ``<app>.portability`` for every installed app that has one (each registers its parts)."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("portability")


def parts() -> list[Part]:
    """Every registered part, each after the parts it names in ``after`` (those not installed are ignored)."""
    ordered: list[Part] = []
    seen: set[str] = set()
    visiting: set[str] = set()

    def visit(part: Part) -> None:
        if part.name in seen:
            return
        if part.name in visiting:
            raise ValueError(f"portability parts depend on each other in a cycle at {part.name!r}")
        visiting.add(part.name)
        for name in part.after:
            if name in _PARTS:
                visit(_PARTS[name])
        visiting.discard(part.name)
        seen.add(part.name)
        ordered.append(part)

    # Parts that name "*" in `after` come after every part that does not (the history: it maps the rows its
    # entries refer to, whichever part restored them).
    for last in (False, True):
        for name in sorted(_PARTS):
            if (ANY in _PARTS[name].after) == last:
                visit(_PARTS[name])
    return ordered


def pointing_at(model: Any) -> list[tuple[Any, str]]:
    """Every (model, column) whose rows point at a row of ``model`` by a foreign key: its reverse foreign keys (a
    many-to-many's own through table is one of them)."""
    return [
        (relation.related_model, relation.field.attname)
        for relation in model._meta.get_fields(include_hidden=True)
        if relation.auto_created and not relation.concrete and not relation.many_to_many
    ]


def give_way(copy: Any, twin: Any) -> None:
    """The copy a thing left on this host gives way to the same thing come back, as it goes live here
    (twins.returning; twins.parts verified that the arriving DID log extends the copy's): the copy's rows of the
    models some part ``replaces`` are deleted (the package brings the thing's own), and every other row that points
    at the copy is kept, pointed at the arriving ``twin``. Those are other accounts' records about the thing, which
    never travelled and which the package does not bring back: a recall notice sent to a previous owner, an inbox
    item, a past sale, the maker's row of the serial, a previous holder's credential (review finding 18: the return
    deleted them all). Kept is the default, so a model no part names is never lost to a return (its part then sees
    the row on the arriving twin)."""
    replaced = {label for part in _PARTS.values() for label in part.replaces}
    for model, column in pointing_at(type(copy)):
        rows = model._base_manager.filter(**{column: copy.pk})
        if model._meta.label in replaced:
            rows.delete()
        else:
            rows.update(**{column: twin.pk})


def twin_package(twin: Any) -> dict[str, Any]:
    """Everything about ``twin`` that moves, as one JSON-serialisable dict (secret: see the module docstring)."""
    return {
        "format": PACKAGE_FORMAT,
        "twin": {"slug": twin.slug, "did": twin.did},
        "parts": {part.name: part.export(twin) for part in parts()},
    }


def _check(package: Mapping[str, Any]) -> None:
    if not isinstance(package, Mapping) or package.get("format") != PACKAGE_FORMAT:
        raise PackageError(f"this is not a {PACKAGE_FORMAT} package")
    given = package.get("parts")
    if not isinstance(given, Mapping):
        raise PackageError("the package has no parts")
    unknown = sorted(set(given) - set(_PARTS))
    if unknown:
        raise PackageError(
            "this instance cannot take the twin's " + ", ".join(unknown) + " (the feature is not installed here)"
        )


@transaction.atomic
def twin_unpack(
    package: Mapping[str, Any],
    *,
    owner: Any,
    source_url: str,
    destination_url: str,
    only: Collection[str] | None = None,
    into: Any = None,
    copy_stays: bool = False,
) -> Any:
    """Restore ``package`` for ``owner``; returns the new twin. All parts or nothing (:class:`PackageError`).

    ``only``: restore just these parts (None: all). ``into``: a twin already here that the package completes (its
    "twin" part then makes no new row: a return going live, twins.moving.activate). ``copy_stays``: see
    :attr:`Arrival.copy_stays`."""
    _check(package)
    given = package["parts"]
    arrival = Arrival(
        owner=owner,
        source_url=source_url,
        destination_url=destination_url,
        twin=into,
        given=given,
        copy_stays=copy_stays,
    )
    for part in parts():
        if only is not None and part.name not in only:
            continue
        if part.name in given and given[part.name] not in (None, []):
            try:
                part.restore(given[part.name], arrival)
            except PackageError:
                raise
            except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
                # Data not in the form the part's export writes: refused in words, never a server error.
                raise PackageError(
                    f"The package's {part.what or part.name} cannot be read here ({type(exc).__name__})."
                ) from None
            except (DataError, IntegrityError) as exc:
                # What a part did not check itself (a NUL in a text, a value out of a column's range, a row this
                # host already has): the whole restore rolls back, and the caller hears why in words. Never the
                # database's own words: the source reads them, and PostgreSQL's DETAIL names the row it collided
                # with ("Key (slug)=(…) already exists"), which tells whoever sent the package what exists here.
                # Logged here by part, kind and constraint only (the values may be the package's secrets).
                diag = getattr(exc.__cause__, "diag", None)
                log.warning(
                    "move package refused: its %s part hit %s (constraint %s)",
                    part.name,
                    type(exc).__name__,
                    getattr(diag, "constraint_name", None) or "unnamed",
                )
                if isinstance(exc, IntegrityError):
                    raise PackageError(f"the thing's {part.name} conflicts with data on this host") from None
                raise PackageError(
                    f"this host cannot store the thing's {part.name} (a value too long, out of range or malformed)"
                ) from None
    if arrival.twin is None:
        raise PackageError("the package has no twin in it")
    return arrival.twin


def part_names(package: Mapping[str, Any]) -> Iterable[str]:
    """The names of the parts a package carries (what a confirmation page can list without unpacking)."""
    return list((package.get("parts") or {}).keys())
