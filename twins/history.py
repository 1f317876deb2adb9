"""Appending to a twin's signed history (ssi.history) and redacting entries.

Appends are serialized per twin by a row lock on the twin (SELECT ... FOR UPDATE on PostgreSQL; SQLite
serializes writers anyway), so two concurrent appends never read the same head and fork the chain; the
(twin, seq) unique constraint backs that up.

Some entries are recorded after the fact: ingested readings of small messages and tag scans are committed first and
appended by the task worker (ingest.history, tags.history). Such a feature registers a *catch-up*
(:func:`register_catch_up`, from its ``AppConfig.ready()``): every append
under the twin's lock first appends what the catch-ups have pending, so the history never places an entry (a
transfer, a deactivation, a note) before a reading that was committed earlier, and nothing committed is left out
when the history closes. A feature whose rows stand behind entries registers a *redactor*
(:func:`register_redactor`) to delete them when the owner removes that kind of entry before a sale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from core.errors import Conflict
from core.sql import select_rows, server_cursor
from ssi import history as chain
from ssi import webvh
from twins import leaving
from twins.identity import agent_key
from twins.models import HistoryEntry, Twin


class TwinDeactivated(Conflict):
    """The twin's DID is deactivated: nothing may be appended any more (SECURITY 10: 409)."""

    message = "This twin has been deactivated: it no longer accepts readings, notes, tags or transfers."


def lock_twin(twin: Twin) -> Twin:
    """Take the twin's row lock for the rest of the transaction and return the fresh row."""
    return Twin.objects.select_for_update().get(pk=twin.pk)


# What appending readings reads of the locked twin (the other fields stay deferred). ``leaving_to``, set from a
# move's confirmation on and kept once the twin moved (twins.leaving), is all :func:`_refuse_closed` needs of it.
APPEND_FIELDS = (
    "id",
    "owner_id",
    "slug",
    "reading_kind",
    "did",
    "agent_key_sealed",
    "deactivated_at",
    "leaving_to",
)


def lock_twin_for_append(twin: Twin) -> Twin:
    """:func:`lock_twin` for the ingestion hot path: the same row lock with only :data:`APPEND_FIELDS` fetched,
    in hand-written SQL (Django compiling the query costs more than the database answering it)."""
    if connection.vendor != "postgresql":
        return Twin.objects.select_for_update().only(*APPEND_FIELDS).get(pk=twin.pk)
    rows = select_rows(Twin, APPEND_FIELDS, "WHERE id = %s FOR UPDATE", [twin.pk])
    if not rows:
        raise Twin.DoesNotExist("Twin matching query does not exist.")
    return rows[0]


def _head(twin: Twin) -> tuple[dict[str, Any], datetime] | None:
    """The newest entry without its content and salt (all the next entry's hash needs), and its time.

    On PostgreSQL the content never leaves the database: after a 1,000-reading batch it is most of the entry.
    """
    if connection.vendor != "postgresql":
        head = HistoryEntry.objects.filter(twin=twin).order_by("-seq").only("time", "entry").first()
        return (chain.redact(head.entry), head.time) if head else None
    with connection.cursor() as cursor:
        cursor.execute(_HEAD, [twin.pk])
        row = cursor.fetchone()
    return (json.loads(row[0]), row[1]) if row else None


# The (twin, seq) unique index serves it.
_HEAD = (
    f"SELECT (entry - 'content' - 'salt')::text, time FROM {HistoryEntry._meta.db_table}"  # noqa: S608
    " WHERE twin_id = %s ORDER BY seq DESC LIMIT 1"
)


def _time_after(*times: datetime | None) -> datetime:
    """Now, or later if needed: history times never decrease, and an entry must not predate the DID log
    version whose key signs it (versionTime has whole seconds and may be a second or two ahead)."""
    return max(t for t in (datetime.now(UTC), *times) if t is not None)


def scid_of(twin: Twin) -> str:
    return webvh.parse_did(twin.did).scid


def history_append(
    *,
    twin: Twin,
    kind: str,
    content: Any,
    ref_id: int | None = None,
    not_before: datetime | None = None,
    locked: bool = False,
) -> HistoryEntry | None:
    """Append one signed entry committing to `content`. A twin without an identity yet records nothing.

    `not_before`: right after a key rotation, the versionTime of the log entry that introduced the key.
    `locked`: `twin` is the fresh row from :func:`lock_twin` in this transaction (no second lock, no savepoint).
    """
    if locked:
        return _append(twin, kind, content, ref_id, not_before)
    with transaction.atomic():
        return _append(lock_twin(twin), kind, content, ref_id, not_before)


def _refuse_closed(locked: Twin) -> None:
    """Refuse an append to a twin whose history is closed here: deactivated (409), moved to another instance (409
    naming it) or on its way there (503, Retry-After: twins.leaving). Read on the row locked for the append: the
    confirmation of a move marks the twin under the same lock after building the package, so an append racing it
    either commits first (and is in the package) or waits for the lock and is refused here."""
    if locked.deactivated_at is not None:
        raise TwinDeactivated(TwinDeactivated.message)
    # One field of the locked row on the hot path; ``moved_to`` too where the row was loaded whole (a twin moved
    # before ``leaving_to`` existed). Telling moved from leaving may load a deferred field: refusals are rare. The
    # seam does not know who asks (a keeper, a maker revoking, a peer): words without the thing's name or where it
    # is going; the owner's pages, API and sources give the owner theirs (twins.not_live, ingest).
    if locked.leaving_to or locked.__dict__.get("moved_to"):
        leaving.check(locked, named=False)


def _append(
    locked: Twin, kind: str, content: Any, ref_id: int | None, not_before: datetime | None
) -> HistoryEntry | None:
    _refuse_closed(locked)
    if not locked.did:
        return None
    head = _head(locked)
    pending = _pending(locked)
    if pending:
        head = _append_rows(locked, head, pending, not_before)
    time = _time_after(head[1] if head else None, not_before)
    entry = chain.append(
        head[0] if head else None,
        content=content,
        kind=str(kind),
        key=agent_key(locked),
        scid=scid_of(locked),
        time=time,
    )
    if connection.vendor != "postgresql":
        return HistoryEntry.objects.create(
            twin=locked, seq=entry["seq"], kind=str(kind), time=time, entry=entry, ref_id=ref_id
        )
    # The same row as objects.create, in hand-written SQL (hot path: every ingested message appends one).
    row = HistoryEntry(twin=locked, seq=entry["seq"], kind=str(kind), time=time, entry=entry, ref_id=ref_id)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_ENTRY, [locked.pk, row.seq, row.kind, time, json.dumps(entry), False, ref_id])
        row.pk = cursor.fetchone()[0]
    row._state.adding = False
    row._state.db = connection.alias
    return row


_INSERT_ENTRY = (
    f"INSERT INTO {HistoryEntry._meta.db_table} (twin_id, seq, kind, time, entry, redacted, ref_id)"  # noqa: S608
    " VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s) RETURNING id"
)


@dataclass(frozen=True)
class Committed:
    """The content of an entry to append, committed to beforehand (:func:`commit_content`): its JCS bytes, the
    salt and the salted hash (ssi.history), worked out before the twin's lock is taken."""

    kind: str
    canonical: bytes
    salt: str
    content_hash: str
    ref_id: int | None = None


def commit_content(*, kind: str, canonical: bytes, ref_id: int | None = None) -> Committed:
    """`canonical`: the JCS (RFC 8785) bytes of the content (``ssi.jcs.canonicalize`` or an equal builder)."""
    salt = chain.new_salt()
    return Committed(str(kind), canonical, salt, chain.content_hash_of(canonical, salt), ref_id)


def history_append_committed(items: list[tuple[Twin, Committed]]) -> None:
    """Append one entry per (twin, content); each twin is the fresh row locked by the caller in this transaction
    (FOR UPDATE, or FOR NO KEY UPDATE, which excludes every other append as well), each at most once. As with
    every append, what the catch-ups have pending goes first; a twin without an identity records nothing.

    Under the lock only the chain step is left (head, time, signature): the content was canonicalized and hashed
    before, and on PostgreSQL the heads come in one query and the entries go in one INSERT, as JSON text with the
    content's canonical text spliced in (the content never becomes a dict). For ingested batches."""
    rows: list[tuple[Twin, dict[str, Any], datetime, Committed]] = []
    todo = [(twin, content) for twin, content in items if _may_append(twin)]
    heads, quiet = _heads([twin for twin, _ in todo])
    for twin, content in todo:
        head = heads.get(twin.pk)
        pending = [] if twin.pk in quiet else _pending(twin)
        if pending:
            head = _append_rows(twin, head, pending, None)
        time = _time_after(head[1] if head else None)
        entry = chain.append_committed(
            head[0] if head else None,
            content_hash=content.content_hash,
            salt=content.salt,
            kind=content.kind,
            key=agent_key(twin),
            scid=scid_of(twin),
            time=time,
        )
        rows.append((twin, entry, time, content))
    if not rows:
        return
    if connection.vendor != "postgresql":
        HistoryEntry.objects.bulk_create(
            HistoryEntry(
                twin=twin,
                seq=entry["seq"],
                kind=content.kind,
                time=time,
                entry={**entry, "content": json.loads(content.canonical)},
                ref_id=content.ref_id,
            )
            for twin, entry, time, content in rows
        )
        return
    params: list[Any] = []
    for twin, entry, time, content in rows:
        text = chain.entry_text(entry, content.canonical.decode("utf-8"))
        params += [twin.pk, entry["seq"], content.kind, time, text, content.ref_id]
    values = ", ".join(["(%s, %s, %s, %s, %s::jsonb, false, %s)"] * len(rows))
    # Bound on the server: the entries (~60 kB each for a 1,000-reading batch) travel as parameters, not quoted
    # into the SQL text for PostgreSQL to scan again (a third less CPU on both sides).
    with server_cursor() as cursor:
        cursor.execute(_INSERT_ENTRIES + values, params)


_INSERT_ENTRIES = (
    f"INSERT INTO {HistoryEntry._meta.db_table} (twin_id, seq, kind, time, entry, redacted, ref_id) VALUES "  # noqa: S608
)


def _may_append(locked: Twin) -> bool:
    _refuse_closed(locked)
    return bool(locked.did)


def _heads(twins: list[Twin]) -> tuple[dict[int, tuple[dict[str, Any], datetime]], set[int]]:
    """:func:`_head` of each twin (those with entries), and the twins whose catch-ups have nothing pending by
    their probes (:func:`register_catch_up`); on PostgreSQL in one query."""
    if connection.vendor != "postgresql":
        heads = {twin.pk: _head(twin) for twin in twins}
        return {pk: head for pk, head in heads.items() if head is not None}, set()
    probes = [_probes.get(catch_up) for catch_up in _catch_ups]
    probe = " OR ".join(f"({sql})" for sql in probes) if probes and None not in probes else "true"
    with connection.cursor() as cursor:
        cursor.execute(_HEADS.format(probe=probe), [[twin.pk for twin in twins]])
        rows = cursor.fetchall()
    heads = {pk: (json.loads(head), time) for pk, head, time, _ in rows if head is not None}
    return heads, {pk for pk, _, _, may_have in rows if not may_have}


# The (twin, seq) unique index serves each twin's probe. Read under the twins' locks, in a statement of its own:
# a statement's snapshot is taken when it starts, so it sees whatever committed before the locks were granted.
_HEADS = (
    "SELECT t.id, h.head, h.time, {probe} FROM unnest(%s::bigint[]) AS t(id) LEFT JOIN LATERAL"  # noqa: S608
    f" (SELECT (entry - 'content' - 'salt')::text AS head, time FROM {HistoryEntry._meta.db_table}"
    " WHERE twin_id = t.id ORDER BY seq DESC LIMIT 1) AS h ON true"
)


@transaction.atomic
def history_append_many(*, twin: Twin, items: list[tuple[str, Any, int | None]]) -> list[HistoryEntry]:
    """Append several entries (kind, content, ref_id) under one lock and one head read, chained in memory and
    inserted at once: for batches recorded after the fact (scans from the buffer), where one entry per item is
    wanted and one round trip per item is not."""
    return _append_many(lock_twin(twin), items)[1]


def _append_many(
    locked: Twin, items: list[tuple[str, Any, int | None]]
) -> tuple[list[HistoryEntry], list[HistoryEntry]]:
    """The entries of the catch-ups, then those of `items`. A catch-up alone (no `items`) for a twin that moved
    or is leaving appends nothing and leaves what is pending as it is: nothing new is written for it here, and a
    worker's flush or an export (which catches up first) must not fail for it. Should the move be called off, the
    next append takes what is pending."""
    if items:
        _refuse_closed(locked)
    elif locked.deactivated_at is not None:
        raise TwinDeactivated(TwinDeactivated.message)
    elif locked.leaving_to or locked.__dict__.get("moved_to"):
        return [], []
    if not locked.did:
        return [], []
    pending = _pending(locked)
    if not items and not pending:
        return [], []
    rows: list[HistoryEntry] = []
    _append_rows(locked, _head(locked), [*pending, *items], None, rows)
    return rows[: len(pending)], rows[len(pending) :]


def _append_rows(
    locked: Twin,
    head: tuple[dict[str, Any], datetime] | None,
    items: list[tuple[str, Any, int | None]],
    not_before: datetime | None,
    out: list[HistoryEntry] | None = None,
) -> tuple[dict[str, Any], datetime]:
    """Chain `items` after `head` in memory, insert them at once, and return the new head. `out` receives the
    rows."""
    previous, time = head if head else (None, None)
    key, scid = agent_key(locked), scid_of(locked)
    rows = []
    for kind, content, ref_id in items:
        time = _time_after(time, not_before)
        entry = chain.append(previous, content=content, kind=str(kind), key=key, scid=scid, time=time)
        rows.append(HistoryEntry(twin=locked, seq=entry["seq"], kind=str(kind), time=time, entry=entry, ref_id=ref_id))
        previous = entry
    rows = HistoryEntry.objects.bulk_create(rows)
    if out is not None:
        out.extend(rows)
    return previous, time


# --- Catch-ups: entries recorded after the fact ------------------------------------------------------------------

CatchUp = Callable[[Twin], list[tuple[str, Any, int | None]]]
_catch_ups: list[CatchUp] = []
_probes: dict[CatchUp, str] = {}


def register_catch_up(catch_up: CatchUp) -> None:
    """Register `catch_up(locked_twin) -> [(kind, content, ref_id), ...]`: called under the twin's row lock, in
    the appending transaction, before every append; it returns the items it has pending for the twin, oldest
    first, and forgets them in the same transaction (so a rollback keeps them pending)."""
    if catch_up not in _catch_ups:
        _catch_ups.append(catch_up)


def register_catch_up_probe(catch_up: CatchUp, sql: str) -> None:
    """An SQL condition on the twin's id (``t.id``), true when `catch_up` may have items for it (PostgreSQL).
    :func:`history_append_committed` evaluates it with the heads, under the lock, and asks a catch-up only for
    twins whose probe is true: several twins then cost one query, not one per twin and catch-up."""
    _probes[catch_up] = sql


def _pending(locked: Twin) -> list[tuple[str, Any, int | None]]:
    """What the catch-ups have pending for the locked twin, in registration order. On PostgreSQL, with several
    catch-ups that all have probes, one query asks the probes first and only the catch-ups with something pending
    are called: each append then costs one query for them, however many features record after the fact."""
    catch_ups = _catch_ups
    if len(catch_ups) > 1 and connection.vendor == "postgresql" and all(c in _probes for c in catch_ups):
        with connection.cursor() as cursor:
            columns = ", ".join(f"({_probes[c]})" for c in catch_ups)
            cursor.execute(f"SELECT {columns} FROM (SELECT %s::bigint AS id) AS t", [locked.pk])  # noqa: S608
            flags = cursor.fetchone()
        catch_ups = [c for c, flag in zip(catch_ups, flags, strict=True) if flag]
    items: list[tuple[str, Any, int | None]] = []
    for catch_up in catch_ups:
        items.extend(catch_up(locked))
    return items


@transaction.atomic
def history_catch_up(*, twin: Twin, locked: bool = False) -> list[HistoryEntry]:
    """Append whatever the catch-ups have pending for the twin (a worker's flush). `locked`: `twin` is the fresh
    row from :func:`lock_twin` or :func:`lock_twin_for_append` in this transaction. Raises TwinDeactivated for a
    deactivated twin."""
    return _append_many(twin if locked else lock_twin(twin), [])[0]


# --- Redactors: what a feature deletes of its own when the owner removes a kind of history before a sale --------

Redactor = Callable[[Twin], None]
_redactors: dict[str, list[Redactor]] = {}


def register_redactor(kind: str, redactor: Redactor) -> None:
    """Register `redactor(locked_twin)`: called by :func:`history_remove_kinds` in its transaction when the owner
    removes history entries of `kind`, to delete the rows behind them (a feature's scans, say). It may change
    fields of `locked_twin`; the caller saves the twin."""
    redactors = _redactors.setdefault(str(kind), [])
    if redactor not in redactors:
        redactors.append(redactor)


def history_remove_kinds(*, twin: Twin, kinds: list[str]) -> None:
    """Before a sale: append what is pending (so nothing committed escapes the removal), redact every entry of
    `kinds` (their hashes stay, the chain still verifies) and let each kind's redactors delete the rows behind
    them. `twin` is the fresh row from :func:`lock_twin` in this transaction."""
    history_catch_up(twin=twin, locked=True)
    history_redact(twin=twin, kinds=kinds)
    for kind in kinds:
        for redactor in _redactors.get(str(kind), ()):
            redactor(twin)


@transaction.atomic
def history_redact(*, twin: Twin, kinds: list[str] | None = None, ref_id: int | None = None) -> int:
    """Drop content and salt of the matching entries; their hashes stay, so the chain still verifies."""
    qs = HistoryEntry.objects.filter(twin=twin, redacted=False)
    if kinds is not None:
        qs = qs.filter(kind__in=kinds)
    if ref_id is not None:
        qs = qs.filter(ref_id=ref_id)
    count = 0
    for item in qs.only("pk", "entry"):
        item.entry = chain.redact(item.entry)
        item.redacted = True
        item.save(update_fields=["entry", "redacted"])
        count += 1
    return count


def history_entries(twin: Twin) -> list[dict[str, Any]]:
    return list(HistoryEntry.objects.filter(twin=twin).order_by("seq").values_list("entry", flat=True))
