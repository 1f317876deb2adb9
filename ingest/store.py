"""Writing verified messages (:func:`store_many`): each one's Delivery row, readings, "latest" values and history,
all or nothing per message.

Two shapes, chosen by size (ingest.history.DEFER_AT_MOST):

- **small** (every single reading): on PostgreSQL the small messages of a call go in one call of the function
  ingest_store_group, which runs ingest_store_small (migrations create both) for each: the Delivery row (the
  unique (source, webhook_id) constraint decides between concurrent duplicates), the readings, a PendingReadings
  row per thing and the flush request, the conditional "latest" update, guarded by a lock on the things that also
  re-checks they are still the owner's and not deactivated. The history entry follows from the worker
  (ingest.history). Alone (the web app, the MQTT bridge) that is one statement committed on its own, no
  BEGIN/COMMIT, the sender's 2xx after it returns; in the ingest gateway's group, part of the group's transaction.
- **batch**: one transaction: the Delivery row first, ids from the sequence and the rows by binary COPY, then the
  things' row locks in primary-key order (two batches naming the same things cannot deadlock), one signed history
  entry per thing, the "latest" update.

Elsewhere (SQLite, a laptop) the same two shapes go through the ORM.

Rules kept in both: nothing is written for a duplicate (the first answer is replayed); a deactivated thing, or one that
is no longer the owner's, refuses the whole message; so does one that no longer lives here, read under the same row lock
(ingest.live.check_locked: moved away or arriving, NotLive; on its way to another host, TwinLeaving), as a move's
confirmation or release may commit between the checks before the write and the write itself; an older reading never
moves "latest" backwards (twins.latest's one rule: its ORM update, its SQL condition in the batch's lock statement, and
its mirror in ingest_store_small); a device signature is stored at most once per thing (a message with one stored
already, which only a concurrent delivery of it can bring this far, stores nothing: IntegrityError; checked under the
things' locks, in ingest_store_small too). Every stored message sends twins.events.ReadingsStored for each of its
things, in the storing transaction, with the readings' ids.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from core.sql import RowPlan, server_cursor
from ingest import devices, live
from ingest import history as pending_history
from ingest.models import Delivery, HistoryFlush, PendingReadings
from twins import events
from twins.history import (
    APPEND_FIELDS,
    Committed,
    TwinDeactivated,
    commit_content,
    history_append_committed,
)
from twins.latest import ADVANCES_SQL, latest_advance, newest_of_kind
from twins.leaving import TwinLeaving
from twins.models import HistoryEntry, Reading, Twin
from twins.services import history_content_jcs, new_reading


class ThingChanged(Exception):
    """A thing of the message stopped being the source owner's between reading and writing (a transfer)."""

    message = "A thing of this message changed hands while it was being stored; nothing was stored."


SIGNED_TWICE = "a device-signed reading of this message is stored already"

# A message's refusals: nothing of it stored, the others of a group stored.
Refusal = TwinDeactivated | ThingChanged | TwinLeaving | live.NotLive
REFUSALS = (TwinDeactivated, ThingChanged, TwinLeaving, live.NotLive)

# What the lock step reads of each thing: what appending needs, and whether it still lives here (ingest.live).
LOCK_FIELDS = tuple(dict.fromkeys((*APPEND_FIELDS, *live.FIELDS)))


@dataclass
class Stored:
    """What a write did. `created` False: the message was stored before (nothing was written now)."""

    created: bool
    latest: set[int] = field(default_factory=set)  # things whose "latest" value this message moved
    flush: list[int] = field(default_factory=list)  # things whose history flush must be enqueued after commit


class NewReading:
    """A reading on its way in, before its row exists: the fields its row is written from, and its id once the
    write has one. The receive path builds one per reading of a message (ingest.services.resolve_readings), up to
    1,000 per batch: a Reading model instance costs about 2 µs more to make and to drop (Django's ModelState and
    its finalizer), and only the ORM path (SQLite) needs one (:meth:`as_model`). Everything else here, and
    twins.services.history_content_jcs, reads the same attributes a Reading has."""

    __slots__ = (
        "created_at",
        "device_key",
        "device_signed",
        "id",
        "kind",
        "note",
        "signature",
        "signed_content",
        "source",
        "time",
        "twin_id",
        "unit",
        "value",
    )

    def __init__(self, twin_id: int, kind: str, value: float, unit: str, time: datetime, source: str) -> None:
        self.id = None
        self.twin_id = twin_id
        self.kind = kind
        self.value = value
        self.unit = unit
        self.time = time
        self.source = source
        self.note = ""
        self.created_at = None
        self.device_signed = False
        self.device_key = ""
        self.signature = ""
        self.signed_content = None

    @property
    def pk(self) -> int | None:
        return self.id

    def as_model(self) -> Reading:
        """The unsaved (or, with an id, saved) Reading of these fields."""
        reading = new_reading(**{name: getattr(self, name) for name in self.__slots__})
        reading._state.adding = self.id is None
        return reading


# What a message's readings may be: the receive path's NewReading, or Reading instances (tests, other callers).
AnyReading = NewReading | Reading


@dataclass(frozen=True)
class Write:
    """One message to store: its things (in primary-key order) with their validated readings, under a new
    Delivery row answering `response`."""

    source_id: int
    owner_id: int
    webhook_id: str
    response: dict[str, Any]
    groups: list[tuple[Twin, list[AnyReading]]]


def store_many(writes: list[Write]) -> list[Stored | Refusal]:
    """Store each message, in order, in the caller's transaction if there is one; a message's refusal (a
    deactivated thing, one that changed hands or no longer lives here: nothing of it stored) is its outcome. On
    PostgreSQL the small messages go in one call of ingest_store_group."""
    small = []
    for write in writes:
        count = 0
        for twin, readings in write.groups:
            count += len(readings)
            twin_id = twin.pk
            for reading in readings:
                if reading.twin_id != twin_id:  # set already by resolve_readings
                    reading.twin_id = twin_id
        small.append(count <= pending_history.DEFER_AT_MOST)
    now = timezone.now()
    outcomes: list[Stored | Refusal | None] = [None] * len(writes)
    postgres = connection.vendor == "postgresql"
    if postgres and any(small):
        indexes = [n for n, is_small in enumerate(small) if is_small]
        # Alone, ingest_store_group commits on its own (no BEGIN/COMMIT round trips): in-transaction subscribers of
        # ReadingsStored would then run after the COMMIT, and could no longer roll the message back. Only when
        # someone subscribes so is the call wrapped in a transaction of its own.
        alone = not connection.in_atomic_block and _heard_in_transaction()
        with transaction.atomic() if alone else nullcontext():
            for n, outcome in zip(indexes, _small_group([writes[n] for n in indexes], now), strict=True):
                outcomes[n] = outcome
    for n, write in enumerate(writes):
        if outcomes[n] is not None:
            continue
        args = (write.source_id, write.owner_id, write.webhook_id, write.response, write.groups, now)
        try:
            outcomes[n] = _batch_postgres(*args) if postgres else _orm(*args, small[n])
        except REFUSALS as exc:
            outcomes[n] = exc
    return outcomes  # type: ignore[return-value]


# --- PostgreSQL ---------------------------------------------------------------------------------------------------

# The functions (ingest/migrations/0004_store_small_function.py, and 0007 which calls it for each of several
# messages) take each message's readings as JSON: one parameter, parsed by PostgreSQL in C (a dozen array
# parameters cost more to adapt than the rest of the request's SQL). Times travel as RFC 3339 text and values as
# the shortest repr, which PostgreSQL reads back exactly. The things' locks are held to COMMIT: a flush of the same
# thing (FOR UPDATE) waits for the message to commit, and a message waits for a running flush, so a flush sees
# every message that began before it. "latest" marks each thing's newest reading of its own kind.
_SMALL = (
    "SELECT ok, created, reading_ids, flush, moved FROM ingest_store_group(%(messages)s::jsonb, %(now)s, %(stale)s)"
)


def _small_group(writes: list[Write], now: datetime) -> list[Stored | Refusal]:
    """Small messages in one call of ingest_store_group, in the caller's transaction (or committed on their own
    with it when there is none); each message's Stored, or the refusal that stored nothing of it."""
    messages = []
    rows_of = []
    for write in writes:
        rows = []
        items = []
        for twin, readings in write.groups:
            newest = newest_of_kind(twin, readings)
            for r in readings:
                items.append(
                    {
                        "n": len(rows),
                        "twin_id": r.twin_id,
                        "kind": r.kind,
                        "value": r.value,
                        "unit": r.unit,
                        "time": r.time.isoformat(),
                        "device_signed": r.device_signed,
                        "device_key": r.device_key,
                        "signature": r.signature,
                        "signed_content": r.signed_content,
                        "latest": r is newest,
                    }
                )
                rows.append(r)
        messages.append(
            {
                "source": write.source_id,
                "owner": write.owner_id,
                "webhook_id": write.webhook_id,
                "response": write.response,
                "twins": [twin.pk for twin, _ in write.groups],
                "readings": items,
            }
        )
        rows_of.append(rows)
    params = {"messages": json.dumps(messages), "now": now, "stale": now - pending_history.STALE_AFTER}
    with server_cursor() as cursor:
        cursor.execute(_SMALL, params)
        answers = cursor.fetchall()
    if len(answers) != len(writes):
        raise DatabaseError("ingest_store_group returned a different number of answers")
    outcomes: list[Stored | Refusal] = []
    for write, rows, (ok, created, ids, flush, moved) in zip(writes, rows_of, answers, strict=True):
        if not ok:
            outcomes.append(_refusal_of([twin for twin, _ in write.groups]))
        elif not created:
            outcomes.append(Stored(False))
        else:
            _set_ids(rows, ids or [], now)
            outcomes.append(Stored(True, latest=set(moved or []), flush=sorted(flush or [])))
            _readings_stored(write.owner_id, write.groups)
    return outcomes


def _refusal_of(twins: list[Twin]) -> Refusal:
    """Why the things' guard in ingest_store_small refused: a deactivated thing (409), one that no longer lives here
    (ingest.live.check_locked's refusal) or one that changed hands. A second read, on the refusal's path only (the
    guard returns no more than whether it locked every thing)."""
    current = list(
        Twin.objects.filter(pk__in=[twin.pk for twin in twins])
        .only("id", "slug", "name", "deactivated_at", *live.FIELDS)
        .order_by("pk")
    )
    if any(twin.deactivated_at is not None for twin in current):
        return TwinDeactivated(TwinDeactivated.message)
    try:
        live.check_locked(current)
    except (TwinLeaving, live.NotLive) as exc:
        return exc
    return ThingChanged(ThingChanged.message)


def _set_ids(rows: list[AnyReading], ids: list[int], now: datetime) -> None:
    if len(ids) != len(rows):
        raise DatabaseError("the readings INSERT returned a different number of ids")
    alias = connection.alias
    for reading, pk in zip(rows, ids, strict=True):
        reading.id = pk
        reading.created_at = now
        if type(reading) is not NewReading:  # a model instance: saved now
            state = reading._state
            state.adding = False
            state.db = alias


_INSERT_DELIVERY = (
    f"INSERT INTO {Delivery._meta.db_table} (source_id, webhook_id, status, response, created_at)"  # noqa: S608
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (source_id, webhook_id) DO NOTHING RETURNING id"
)


def delivery_insert(source_id: int, webhook_id: str, response: dict[str, Any], now: datetime) -> bool:
    """Insert the Delivery row; False if the unique (source, webhook_id) constraint says this message is stored
    already. On PostgreSQL a concurrent uncommitted insert of the same message makes this wait for its outcome;
    the constraint is the arbiter."""
    prepared = Delivery._meta.get_field("response").get_db_prep_save(response, connection)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_DELIVERY, [source_id, webhook_id, 200, prepared, now])
        return cursor.fetchone() is not None


_COPY_READINGS = (
    f"COPY {Reading._meta.db_table} (id, twin_id, kind, value, unit, time, source, note, created_at, device_signed,"
    " device_key, signature, signed_content) FROM STDIN (FORMAT BINARY)"
)
_COPY_TYPES = [
    "int8",
    "int8",
    "text",
    "float8",
    "text",
    "timestamptz",
    "text",
    "text",
    "timestamptz",
    "bool",
    "text",
    "text",
    "jsonb",
]
_UNSIGNED = (False, "", "", None)
_sequence: str | None = None


def _reading_sequence(cursor) -> str:
    global _sequence
    if _sequence is None:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Reading._meta.db_table])
        _sequence = cursor.fetchone()[0]
    return _sequence


# The Delivery row, and only if it is new, the readings' ids: one row (an array), the sequence named once (a
# regclass constant, not a catalog lookup per id).
_BEGIN = (
    f"WITH d AS (INSERT INTO {Delivery._meta.db_table} (source_id, webhook_id, status, response, created_at)"  # noqa: S608
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (source_id, webhook_id) DO NOTHING RETURNING id)"
    " SELECT array_agg(nextval(%s::regclass)) FROM d, generate_series(1, %s)"
)

# The things' row locks in primary-key order (FOR UPDATE: appends to their histories follow) and, in the same
# statement, the "latest" update: the locked rows are fresh (a lock granted after a wait returns the row as the
# other transaction committed it), and the UPDATE re-checks its condition on that row, so an older reading never
# moves "latest" backwards. Should the things turn out deactivated, another owner's or no longer living here
# (ingest.live), the transaction rolls back.
_LOCK = f"""
WITH locked AS (SELECT {{fields}} FROM {Twin._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR UPDATE),
moved AS (
    UPDATE {Twin._meta.db_table} t SET latest_value = n.value, latest_unit = n.unit, latest_at = n.time
    FROM locked l, unnest(%s::bigint[], %s::float8[], %s::text[], %s::timestamptz[]) AS n(twin_id, value, unit, time)
    WHERE t.id = l.id AND t.id = n.twin_id AND {ADVANCES_SQL}
    RETURNING t.id
)
SELECT {{columns}}, l.id IN (SELECT id FROM moved) FROM locked l ORDER BY l.id
"""  # noqa: S608


def _batch_postgres(
    source_id: int,
    owner_id: int,
    webhook_id: str,
    response: dict[str, Any],
    groups: list[tuple[Twin, list[AnyReading]]],
    now: datetime,
) -> Stored:
    """One transaction: the Delivery row first (a concurrent delivery of the same message waits there for this
    one's outcome), the readings by COPY, each thing's entry content canonicalized and committed to; only then the
    things' row locks in primary-key order, the entries' chain step (heads, signatures, one INSERT), the "latest"
    update and COMMIT. The locks are held for that last part only, so concurrent batches for the same things
    overlap in everything before it.

    The readings' foreign keys are checked at COMMIT (Django makes them DEFERRABLE INITIALLY DEFERRED), by when
    this transaction holds the stronger lock itself, so the order cannot deadlock with another batch. (Checked
    at the end of the COPY instead, before the locks, concurrent batches' key shares on the same rows measured
    slower, though the locks were then held for less.)
    """
    from psycopg.types.json import Jsonb

    rows = [reading for _, readings in groups for reading in readings]
    with transaction.atomic():
        with connection.cursor() as cursor:
            prepared = Delivery._meta.get_field("response").get_db_prep_save(response, connection)
            cursor.execute(_BEGIN, [source_id, webhook_id, 200, prepared, now, _reading_sequence(cursor), len(rows)])
            ids = cursor.fetchone()[0]
            if ids is None:
                return Stored(False)
            _set_ids(rows, ids, now)
            api = Reading.Source.API.value
            with cursor.cursor.copy(_COPY_READINGS) as copy:
                copy.set_types(_COPY_TYPES)
                write = copy.write_row
                for r in rows:
                    if r.device_signed:
                        signed = (True, r.device_key, r.signature, Jsonb(r.signed_content))
                    else:
                        signed = _UNSIGNED
                    write((r.id, r.twin_id, r.kind, r.value, r.unit, r.time, api, "", now, *signed))
        contents = [(twin, _committed(readings)) for twin, readings in groups]
        locked, moved = _lock(groups, owner_id)
        _refuse_signed_twice_postgres(rows)
        history_append_committed([(locked[twin.pk], content) for twin, content in contents])
        _readings_stored(owner_id, groups)
    return Stored(True, latest=moved)


# Another row of the same thing, time and device signature than one of this message's (its own rows excluded), one
# probe of the (twin_id, time) index per signed reading (ingest.devices._STORED's form). Run after the things' locks:
# a statement that begins after a lock wait reads what the other transaction committed.
_SIGNED_TWICE = f"""
SELECT 1 FROM jsonb_to_recordset(%s::jsonb) AS r(id bigint, twin_id bigint, time timestamptz, signature text)
CROSS JOIN LATERAL (
    SELECT 1 FROM {Reading._meta.db_table} x
    WHERE x.twin_id = r.twin_id AND x.time = r.time AND x.signature = r.signature AND x.id <> r.id LIMIT 1
) AS found LIMIT 1
"""  # noqa: S608


def _refuse_signed_twice_postgres(rows: list[AnyReading]) -> None:
    """A device signature is stored at most once per thing (ingest.devices.ALREADY_STORED). Receiving leaves out
    the ones it finds stored, without a lock; this settles two deliveries of one signed reading racing each other,
    under the things' locks, as ingest_store_small does (ingest/migrations/0011): the later one stores nothing."""
    signed = [
        {"id": r.id, "twin_id": r.twin_id, "time": r.time.isoformat(), "signature": r.signature}
        for r in rows
        if r.device_signed
    ]
    if not signed:
        return
    with connection.cursor() as cursor:
        cursor.execute(_SIGNED_TWICE, [json.dumps(signed)])
        if cursor.fetchone() is not None:
            raise IntegrityError(SIGNED_TWICE)


def _refuse_signed_twice_orm(rows: list[AnyReading]) -> None:
    """:func:`_refuse_signed_twice_postgres` before the INSERT, for SQLite (whose writers are serialized anyway):
    the receiving check's own query (ingest.devices.signatures_stored), now under the things' locks."""
    signed = [(r.twin_id, r.time, r.signature) for r in rows if r.device_signed]
    if signed and (len(set(signed)) < len(signed) or devices.signatures_stored(rows)):
        raise IntegrityError(SIGNED_TWICE)


def _lock(groups: list[tuple[Twin, list[AnyReading]]], owner_id: int) -> tuple[dict[int, Twin], set[int]]:
    """The things' row locks (fresh rows, see _LOCK) and the things whose "latest" this message moved; refuses
    (the caller's transaction rolls back) if a thing is deactivated, another owner's or no longer lives here."""
    newest = [(twin, reading) for twin, readings in groups if (reading := newest_of_kind(twin, readings))]
    params = [
        [twin.pk for twin, _ in groups],
        [twin.pk for twin, _ in newest],
        [r.value for _, r in newest],
        [r.unit for _, r in newest],
        [r.time for _, r in newest],
    ]
    plan = RowPlan.of(Twin, LOCK_FIELDS, "l")
    with connection.cursor() as cursor:
        fields = RowPlan.of(Twin, LOCK_FIELDS).columns
        cursor.execute(_LOCK.format(fields=fields, columns=plan.columns), params)
        rows = cursor.fetchall()
    locked = {}
    moved = set()
    for row in rows:
        twin = plan.instance(row)
        locked[twin.pk] = twin
        if row[-1]:
            moved.add(twin.pk)
    if any(twin.deactivated_at is not None for twin in locked.values()):
        raise TwinDeactivated(TwinDeactivated.message)
    if len(locked) != len(groups) or any(twin.owner_id != owner_id for twin in locked.values()):
        raise ThingChanged(ThingChanged.message)
    live.check_locked(locked.values())
    return locked, moved


def _committed(readings: list[AnyReading]) -> Committed:
    """One signed entry's content for the thing's readings of this message (a single reading: the entry a manual
    reading gets), committed to. Per-reading entries would cost a hash-chain step and a signature each."""
    ref_id = readings[0].pk if len(readings) == 1 else None
    return commit_content(kind=HistoryEntry.Kind.READING, canonical=history_content_jcs(readings), ref_id=ref_id)


def _readings_stored(owner_id: int, groups: list[tuple[Twin, list[AnyReading]]]) -> None:
    """twins.events.ReadingsStored for each thing of a message just written, in its transaction: in-transaction
    subscribers run now and roll back with it, the others wait for the COMMIT (and never hear a rollback). Every
    path has the readings' ids by now (ingest_store_small returns them). With no subscriber this is an event per
    thing and two dict lookups, no query."""
    send, event = events.send, events.ReadingsStored
    for twin, readings in groups:
        # attrgetter("id") in C, not Model.pk's property per reading: a thousand readings a batch.
        send(event(twin_id=twin.pk, owner_id=owner_id, reading_ids=tuple(map(_ID, readings)), count=len(readings)))


_ID = attrgetter("id")


def _heard_in_transaction() -> bool:
    return events.has_subscribers(events.ReadingsStored, in_transaction=True)


# --- Other databases (the ORM) ------------------------------------------------------------------------------------


def _orm(
    source_id: int,
    owner_id: int,
    webhook_id: str,
    response: dict[str, Any],
    groups: list[tuple[Twin, list[AnyReading]]],
    now: datetime,
    small: bool,
) -> Stored:
    with transaction.atomic():
        if not delivery_insert(source_id, webhook_id, response, now):
            return Stored(False)
        # SQLite serializes writers, so these reads cannot go stale before COMMIT.
        locked = Twin.objects.select_for_update().only(*LOCK_FIELDS).in_bulk([twin.pk for twin, _ in groups])
        if any(twin.deactivated_at is not None for twin in locked.values()):
            raise TwinDeactivated(TwinDeactivated.message)
        if len(locked) != len(groups) or any(twin.owner_id != owner_id for twin in locked.values()):
            raise ThingChanged(ThingChanged.message)
        live.check_locked(locked.values())
        rows = [reading for _, readings in groups for reading in readings]
        _refuse_signed_twice_orm(rows)
        models = [reading.as_model() if type(reading) is NewReading else reading for reading in rows]
        for model in models:
            model.created_at = now
        Reading.objects.bulk_create(models)
        for reading, model in zip(rows, models, strict=True):
            reading.id, reading.created_at = model.id, now
        if not small:
            history_append_committed([(locked[twin.pk], _committed(readings)) for twin, readings in groups])
        stored = Stored(True)
        for twin, readings in groups:
            if small:
                PendingReadings.objects.create(twin_id=twin.pk, reading_ids=[r.pk for r in readings])
                flush, created = HistoryFlush.objects.get_or_create(twin_id=twin.pk, defaults={"requested_at": now})
                if created or flush.requested_at < now - pending_history.STALE_AFTER:
                    if not created:
                        HistoryFlush.objects.filter(pk=twin.pk).update(requested_at=now)
                    stored.flush.append(twin.pk)
            if latest_advance(twin=twin, readings=readings) is not None:
                stored.latest.add(twin.pk)
        _readings_stored(owner_id, groups)
    return stored
