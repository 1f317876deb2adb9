"""Writes for ingestion: sources and their secrets, thing links, and storing a verified delivery."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from core import vault
from core.live import broadcast_after_commit
from core.ratelimit import Limit
from core.sql import RowPlan, select_rows
from ingest import devices, live, store
from ingest import history as pending_history
from ingest.mapping import PayloadError, PointerSyntaxError, RawReading, TooManyReadings, clean_mapping, extract
from ingest.models import Delivery, Source, SourceThing
from ssi import webhooks
from twins import leaving as twin_leaving
from twins.latest import newest_of_kind
from twins.models import Reading, Twin

log = logging.getLogger(__name__)

MAX_OVERLAP = timedelta(days=30)


def _seal(secret: str) -> bytes:
    return vault.seal(secret.encode())


def clean_rate_limit(text: str) -> str:
    try:
        limit = Limit.parse((text or "").strip())
    except Exception:
        raise ValidationError({"rate_limit": "A rate limit is requests/seconds, like 600/60."}) from None
    if limit.count < 1 or limit.seconds < 1:
        raise ValidationError({"rate_limit": "Both numbers of a rate limit are at least 1."})
    return f"{limit.count}/{limit.seconds}"


def validate_mapping(mapping: Any) -> dict[str, str]:
    """Only the entries that differ from the default are kept, so a later change of default reaches them."""
    try:
        full = clean_mapping(mapping)
    except PointerSyntaxError as exc:
        raise ValidationError({"mapping": str(exc)}) from None
    return {name: pointer for name, pointer in full.items() if mapping and name in mapping}


@dataclass(frozen=True)
class Preview:
    """What a sample payload would store under a mapping: (twin, unsaved reading) rows, or the first bad field's
    pointer and message."""

    rows: list[tuple[Twin, Reading]]
    now: datetime
    error: str = ""
    pointer: str = ""


def mapping_preview(*, source: Source, mapping: Any, sample: Any) -> Preview:
    """Run `sample` through `mapping` as the hook would, storing nothing (the source page's Preview and the API's)."""
    now = timezone.now()
    try:
        raw = extract(sample, clean_mapping(mapping), now=now)
        grouped = resolve_readings(source=source, raw=raw, now=now)
    except PayloadError as exc:
        return Preview(rows=[], now=now, error=exc.message, pointer=exc.pointer)
    except (TooManyReadings, PointerSyntaxError) as exc:
        return Preview(rows=[], now=now, error=str(exc))
    rows = [(twin, reading.as_model()) for twin, readings in grouped.items() for reading in readings]
    return Preview(rows=rows, now=now)


@transaction.atomic
def source_create(*, owner, name: str, mapping: Any = None, rate_limit: str | None = None) -> tuple[Source, str]:
    """A new source and its secret. The secret is returned once, to show to the owner, and kept only sealed."""
    secret = webhooks.new_secret()
    source = Source(
        owner=owner,
        name=(name or "").strip(),
        secret_sealed=_seal(secret),
        mapping=validate_mapping(mapping),
        rate_limit=clean_rate_limit(rate_limit) if rate_limit else Source._meta.get_field("rate_limit").default,
    )
    source.full_clean(exclude=["owner", "secret_sealed", "previous_secret_sealed"])
    source.save()
    return source, secret


@transaction.atomic
def source_update(*, source: Source, name: str, mapping: Any, rate_limit: str) -> Source:
    source.name = (name or "").strip()
    source.mapping = validate_mapping(mapping)
    source.rate_limit = clean_rate_limit(rate_limit)
    source.full_clean(exclude=["owner", "secret_sealed", "previous_secret_sealed"])
    source.save(update_fields=["name", "mapping", "rate_limit", "updated_at"])
    return source


@transaction.atomic
def source_rotate_secret(*, source: Source, overlap: timedelta) -> tuple[Source, str]:
    """A new secret; the current one stays valid for `overlap` (SECURITY 31), any older one ends now."""
    if overlap < timedelta(0) or overlap > MAX_OVERLAP:
        raise ValidationError({"overlap_hours": f"The overlap is between 0 and {MAX_OVERLAP.days} days."})
    source = Source.objects.select_for_update().get(pk=source.pk)
    secret = webhooks.new_secret()
    if overlap > timedelta(0):
        source.previous_secret_sealed = source.secret_sealed
        source.previous_valid_until = timezone.now() + overlap
    else:
        source.previous_secret_sealed = None
        source.previous_valid_until = None
    source.secret_sealed = _seal(secret)
    source.save(update_fields=["secret_sealed", "previous_secret_sealed", "previous_valid_until", "updated_at"])
    return source, secret


@transaction.atomic
def source_end_overlap(*, source: Source) -> Source:
    """Stop accepting the previous secret now."""
    source.previous_secret_sealed = None
    source.previous_valid_until = None
    source.save(update_fields=["previous_secret_sealed", "previous_valid_until", "updated_at"])
    return source


@transaction.atomic
def source_delete(*, source: Source) -> None:
    source.delete()


@transaction.atomic
def source_link_thing(*, source: Source, twin: Twin, external_id: str = "") -> SourceThing:
    """Feed `twin` from `source`. Refused while the thing is on its way to another host or after it moved
    (twins.leaving: its sources travelled in the package already)."""
    if twin.owner_id != source.owner_id:
        raise ValidationError({"twin": "Only your own things can be linked."})
    twin_leaving.refuse_if_leaving(twin)
    external_id = (external_id or "").strip()
    if len(external_id) > 200:
        raise ValidationError({"external_id": "An external id is at most 200 characters."})
    if SourceThing.objects.filter(source=source, twin=twin).exists():
        raise ValidationError({"twin": "This thing is already linked to the source."})
    if external_id and SourceThing.objects.filter(source=source, external_id=external_id).exists():
        raise ValidationError({"external_id": "Another thing of this source has that external id."})
    return SourceThing.objects.create(source=source, twin=twin, external_id=external_id)


@transaction.atomic
def source_unlink_thing(*, link: SourceThing) -> None:
    link.delete()


# --- Receiving -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    replayed: bool = False


SOURCE_FIELDS = tuple(f.attname for f in Source._meta.concrete_fields)
# What receiving reads of the things a message names (the rest stays deferred).
THING_FIELDS = (
    "id",
    "owner_id",
    "slug",
    "reading_kind",
    "reading_unit",
    "require_device_signature",
    "deactivated_at",
    *live.FIELDS,
)


def source_for_message(public_id: str, webhook_id: str | None = None, *, live: bool = False) -> Source | None:
    """The source, read fresh for every message (a rotated secret or a deleted source takes effect at once), and in
    the same query the first answer to `webhook_id` if a message with that id was stored. The id is not verified
    yet: receive_message uses the answer only once the signature has verified (see :func:`replay_of`). With `live`,
    also whether the source feeds a thing that lives here (:func:`source_feeds_live`, the web hook's 308/409 for a
    source whose things all moved or are arriving), in the same query.

    Written by hand: compiling the queryset costs more than the database answering it.
    """
    plan = RowPlan.of(Source, SOURCE_FIELDS, "s")
    sql = (
        f"SELECT {plan.columns}, d.status, d.response{_FEEDS_LIVE if live else ''}"  # noqa: S608 (metadata)
        f" FROM {Source._meta.db_table} s"
        f" LEFT JOIN {Delivery._meta.db_table} d ON d.source_id = s.id AND d.webhook_id = %s"
        " WHERE s.public_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [webhook_id or "", public_id])
        row = cursor.fetchone()
    return None if row is None else _source_of_row(plan, row, webhook_id, live=live)


# Whether the source feeds a thing that lives here (twins.models.Twin.objects.live()): the (source, twin) index,
# then each linked twin by its key, until one is live.
_FEEDS_LIVE = (
    f", EXISTS (SELECT 1 FROM {SourceThing._meta.db_table} l JOIN {Twin._meta.db_table} t ON t.id = l.twin_id"  # noqa: S608
    " WHERE l.source_id = s.id AND t.moved_to = '' AND NOT t.arriving)"
)


def _source_of_row(plan: RowPlan, row, webhook_id: str | None, offset: int = 0, live: bool = False) -> Source:
    source = plan.instance(row, offset)
    status, response = row[offset + plan.width], row[offset + plan.width + 1]
    first = None
    if status is not None:
        first = Outcome(status, json.loads(response) if isinstance(response, str) else response, replayed=True)
    source._replay = (webhook_id, first)
    if live:
        source._feeds_live = bool(row[offset + plan.width + 2])
    return source


def source_feeds_live(source: Source) -> bool:
    """Whether `source` feeds at least one thing that lives here (not moved away, not still arriving; a thing on its
    way to another host still lives here): read with the source when it was found with ``live=True``, else now."""
    known = getattr(source, "_feeds_live", None)
    if known is not None:
        return known
    return SourceThing.objects.filter(source=source, twin__moved_to="", twin__arriving=False).exists()


def source_link_states(source: Source, limit: int = 100) -> set[tuple[str, bool]]:
    """The (moved_to, arriving) of up to `limit` of the things `source` feeds: where they live when none lives here."""
    return set(SourceThing.objects.filter(source=source).values_list("twin__moved_to", "twin__arriving")[:limit])


def sources_for_messages(wanted: list[tuple[str, str | None]], *, live: bool = False) -> list[Source | None]:
    """:func:`source_for_message` for several messages, each (public_id, webhook_id), in one query on PostgreSQL.
    Each message gets its own Source instance (with its own first answer), None where the id is unknown."""
    if len(wanted) == 1 or connection.vendor != "postgresql":
        return [source_for_message(public_id, webhook_id, live=live) for public_id, webhook_id in wanted]
    plan = RowPlan.of(Source, SOURCE_FIELDS, "s")
    sql = (
        f"SELECT n.i, {plan.columns}, d.status, d.response{_FEEDS_LIVE if live else ''}"  # noqa: S608 (metadata)
        " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS n(public_id, webhook_id, i)"
        f" JOIN {Source._meta.db_table} s ON s.public_id = n.public_id"
        # A LATERAL subquery that cannot be pulled up (LIMIT): one lookup of both columns in the unique (source,
        # webhook_id) index per message, whatever the table's statistics say (as a join, a young table's stale
        # statistics let the planner read every delivery of the source and filter them).
        f" LEFT JOIN LATERAL (SELECT status, response FROM {Delivery._meta.db_table}"
        " WHERE source_id = s.id AND webhook_id = n.webhook_id LIMIT 1) d ON true"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [[public_id for public_id, _ in wanted], [webhook_id or "" for _, webhook_id in wanted]])
        rows = cursor.fetchall()
    found: list[Source | None] = [None] * len(wanted)
    for row in rows:
        index = row[0] - 1
        found[index] = _source_of_row(plan, row, wanted[index][1], offset=1, live=live)
    return found


def replay_of(*, source: Source, webhook_id: str) -> Outcome | None:
    """The first answer to this (verified) message id if it was stored: from :func:`source_for_message`'s query
    when it asked for this id, else from the database."""
    asked = getattr(source, "_replay", None)
    if asked is not None and asked[0] == webhook_id:
        return asked[1]
    return delivery_replay(source=source, webhook_id=webhook_id)


def source_things(*, source: Source, names: set[str], only: bool) -> tuple[dict[str, Twin], dict[str, Twin], list]:
    """The owner's things linked to `source` that `names` name (by external id, by slug), in one query; with
    `only`, also up to two of its things, to tell whether it feeds exactly one. Only what the message names is
    read, however many things the source feeds."""
    plan = RowPlan.of(Twin, THING_FIELDS, "t")
    by_external: dict[str, Twin] = {}
    by_slug: dict[str, Twin] = {}
    some: dict[int, Twin] = {}
    if not names and not only:
        return by_external, by_slug, []
    if connection.vendor == "postgresql":
        # The same query, planned once per connection (ingest/migrations/0005_source_things_function.py).
        sql, params = (
            "SELECT * FROM ingest_source_things(%s, %s, %s, %s)",
            [
                source.pk,
                source.owner_id,
                list(names),
                only,
            ],
        )
    else:
        sql, params = _source_things_sql(plan, source, names, only)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    seen: dict[int, Twin] = {}
    for row in rows:
        found = seen.get(row[2])
        if found is None:
            found = seen[row[2]] = plan.instance(row, 2)
        if row[0] == 1:
            by_external[row[1]] = found
        elif row[0] == 2:
            by_slug[found.slug] = found
        else:
            some[found.pk] = found
    return by_external, by_slug, list(some.values())


def _source_things_sql(plan: RowPlan, source: Source, names: set[str], only: bool) -> tuple[str, list[Any]]:
    link, twin = SourceThing._meta.db_table, Twin._meta.db_table
    parts: list[str] = []
    params: list[Any] = []
    if names:
        marks = ", ".join(["%s"] * len(names))
        parts.append(
            f"SELECT 1 AS branch, l.external_id, {plan.columns} FROM {link} l JOIN {twin} t ON t.id = l.twin_id"  # noqa: S608
            f" WHERE l.source_id = %s AND t.owner_id = %s AND l.external_id IN ({marks})"
        )
        parts.append(
            f"SELECT 2 AS branch, l.external_id, {plan.columns} FROM {twin} t"  # noqa: S608
            f" JOIN {link} l ON l.twin_id = t.id AND l.source_id = %s"
            f" WHERE t.owner_id = %s AND t.slug IN ({marks})"
        )
        params += [source.pk, source.owner_id, *names, source.pk, source.owner_id, *names]
    if only:
        parts.append(
            f"SELECT * FROM (SELECT 3 AS branch, l.external_id, {plan.columns} FROM {link} l"  # noqa: S608
            f" JOIN {twin} t ON t.id = l.twin_id WHERE l.source_id = %s AND t.owner_id = %s ORDER BY l.id LIMIT 2)"
            " AS first_two"
        )
        params += [source.pk, source.owner_id]
    return " UNION ALL ".join(parts), params


def things_named(raw: list[RawReading]) -> tuple[set[str], bool]:
    """The names (slug or external id) the readings give their things, and whether any reading names none."""
    return {item.thing for item in raw if item.thing is not None}, any(item.thing is None for item in raw)


def resolve_readings(
    *,
    source: Source,
    raw: list[RawReading],
    now: datetime,
    things: tuple | None = None,
    refused: list[dict[str, str]] | None = None,
    leaving: list[Twin] | None = None,
) -> dict[Twin, list[store.NewReading]]:
    """Readings grouped by twin (in primary-key order), defaults applied, device signatures checked
    (ingest.devices): a signed reading comes back device-signed. PayloadError names the field of an unknown thing,
    of a device signature that does not verify, or of the missing signature of a thing that requires one.
    `things`: :func:`source_things`'s answer for at least these readings' names, when already read (several
    messages of one source read them in one query).

    A reading for a thing that does not live here (moved away or still arriving: ingest.live.not_live_reason) is
    left out, and `refused` (if given) gets ``{"pointer", "thing", "reason"}`` for it: the HTTP hook, the MQTT
    bridge and the gateway all come through here, so none of them stores a reading a moved thing's new host should
    get. So is a reading for a thing on its way to another host (ingest.live.is_leaving), whose twin `leaving` (if
    given) gets too: the caller refuses the whole message (ingest.receive) or, where it cannot ask for a retry,
    stores the rest as for a moved thing."""
    if things is None:
        names, need_only = things_named(raw)
        things = source_things(source=source, names=names, only=need_only)
    by_external, by_slug, some = things
    only = some[0] if len(some) == 1 else None
    # Per distinct name: the twin and the list its readings go to.
    # A str instead of the list: why the thing's readings are refused.
    targets: dict[str | None, tuple[Twin, list[store.NewReading] | str]] = {}
    grouped: dict[int, tuple[Twin, list[store.NewReading]]] = {}
    keys: dict[int, dict] | None = None
    api = Reading.Source.API
    new_reading = store.NewReading  # not a Reading model: about 2 µs less per reading (ingest.store)
    for item in raw:
        target = targets.get(item.thing)
        if target is None:
            if item.thing is None:
                twin = only
                if twin is None:
                    raise PayloadError(item.thing_pointer, "Name the thing: this source feeds more than one, or none.")
            else:
                twin = by_external.get(item.thing) or by_slug.get(item.thing)
                if twin is None:
                    raise PayloadError(item.thing_pointer, "No thing of this source has that slug or external id.")
            reason = live.not_live_reason(twin)
            if reason is None and live.is_leaving(twin):
                reason = live.leaving_reason(twin)
                if leaving is not None:
                    leaving.append(twin)
            target = targets[item.thing] = (twin, reason) if reason else grouped.setdefault(twin.pk, (twin, []))
        twin, readings = target
        if isinstance(readings, str):
            if refused is not None:
                refused.append({"pointer": item.thing_pointer, "thing": twin.slug, "reason": readings})
            continue
        kind = item.kind or twin.reading_kind
        unit = item.unit if item.unit is not None else (twin.reading_unit if kind == twin.reading_kind else "")
        reading = new_reading(twin.id, kind, item.value, unit, item.time or now, api)
        if item.signature is not None or twin.require_device_signature:
            if keys is None:
                keys = devices.active_keys(list(grouped))
            if twin.id not in keys:
                keys.update(devices.active_keys([twin.id]))
            devices.check_reading(item=item, reading=reading, twin=twin, keys=keys.get(twin.id, {}))
        readings.append(reading)
    return {twin: readings for _, (twin, readings) in sorted(grouped.items())}


def delivery_store(
    *, source: Source, webhook_id: str, readings: dict[Twin, list[store.AnyReading]], refused: list[dict[str, str]] = ()
) -> Outcome:
    """Store every reading of the delivery, or nothing; exactly once per webhook id (ingest.store).

    A duplicate (stored meanwhile by a concurrent delivery of the same message, which has committed: the unique
    constraint made this one wait for it) writes nothing and answers with the first delivery's response.
    After commit: one push per thing to its open pages, and the history flush of a small message's things.
    Raises one of store.REFUSALS (nothing stored: a deactivated thing, one that changed hands or no longer lives
    here). `refused`: the readings resolve_readings left out (things that do not live here), named in the answer
    (and so in a retry's).
    """
    write = _write(source, webhook_id, readings, refused)
    try:
        stored = store.store_many([write])[0]
    except IntegrityError:
        stored = store.Stored(False)
    if isinstance(stored, Exception):
        raise stored
    return _delivered(source, write, stored)


def _write(
    source: Source, webhook_id: str, readings: dict[Twin, list[store.AnyReading]], refused: list[dict[str, str]] = ()
) -> store.Write:
    count = sum(len(items) for items in readings.values())
    groups = sorted(readings.items(), key=lambda pair: pair[0].pk)
    response: dict[str, Any] = {"stored": count, "webhook_id": webhook_id}
    if refused:
        response["refused"] = list(refused)
    return store.Write(source.pk, source.owner_id, webhook_id, response, groups)


def _delivered(source: Source, write: store.Write, stored: store.Stored) -> Outcome:
    """The answer to a message store.store_many wrote (or found written: the first answer), with its pushes and
    history flush scheduled for after COMMIT."""
    if not stored.created:
        first = delivery_replay(source=source, webhook_id=write.webhook_id)
        if first is None:
            raise IntegrityError("delivery conflict without a first delivery")
        return first
    if stored.flush:
        flush = stored.flush
        transaction.on_commit(lambda: pending_history.schedule(flush))
    for twin, items in write.groups:
        latest = twin.pk in stored.latest
        shown = newest_of_kind(twin, items) if latest else max(items, key=_TIME)
        # The shape of twins.pushes.reading_event, plus how many readings the message brought.
        broadcast_after_commit(
            owner_id=twin.owner_id,
            twin_id=twin.pk,
            event={
                "kind": "reading",
                "thing": twin.slug,
                "reading": {
                    "id": shown.pk,
                    "kind": shown.kind,
                    "value": shown.value,
                    "unit": shown.unit,
                    "time": shown.time.isoformat(),
                    "source": shown.source,
                    "device_signed": shown.device_signed,
                },
                "latest": latest,
                "count": len(items),
            },
        )
    return Outcome(200, write.response)


_TIME = attrgetter("time")  # in C: a batch's thousand readings

# Every thing of a group of messages, in primary-key order, in the mode ingest_store_small takes each message's.
_LOCK_THINGS = f"SELECT id FROM {Twin._meta.db_table} WHERE id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE"  # noqa: S608


def delivery_store_many(
    items: list[
        tuple[Source, str, dict[Twin, list[store.AnyReading]]]
        | tuple[Source, str, dict[Twin, list[store.AnyReading]], list]
    ],
) -> list[Outcome | store.Refusal | DatabaseError]:
    """:func:`delivery_store` for several messages (source, webhook_id, readings[, refused]), with one COMMIT for
    all of them (group commit: the ingest gateway's concurrent messages). In the order given: each message's
    outcome, or the refusal (store.REFUSALS: a deactivated thing, one that changed hands or no longer lives here)
    that stored nothing of it while the others were stored.

    The things of every message are locked first, in primary-key order, so each message's own lock finds them
    held and two such transactions cannot deadlock on things; the messages are written in (source, webhook-id)
    order, the small ones in one database call (store.store_many). If the transaction fails as a whole (a database
    error in one message, a deadlock, a failed COMMIT), nothing of it stays and each message is stored on its own
    instead: one message cannot fail the others (a message that fails on its own too gets its DatabaseError as the
    outcome). The pushes and history flushes of stored messages follow the COMMIT (on_commit), as for one message.
    """
    if len(items) == 1:
        return [_store_alone(*items[0])]
    order = sorted(range(len(items)), key=lambda n: (items[n][0].pk, items[n][1]))
    outcomes: list[Outcome | store.Refusal | None] = [None] * len(items)
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                ids = sorted({twin.pk for item in items for twin in item[2]})
                with connection.cursor() as cursor:
                    cursor.execute(_LOCK_THINGS, [ids])
            writes = [_write(*items[n]) for n in order]
            for n, write, stored in zip(order, writes, store.store_many(writes), strict=True):
                source = items[n][0]
                outcomes[n] = stored if isinstance(stored, Exception) else _delivered(source, write, stored)
        return outcomes  # type: ignore[return-value]
    except DatabaseError as exc:
        log.warning("%d messages stored together failed (%s); storing each on its own", len(items), type(exc).__name__)
        return [_store_alone(*item) for item in items]


def _store_alone(
    source: Source, webhook_id: str, readings: dict[Twin, list[store.AnyReading]], refused: list[dict[str, str]] = ()
) -> Outcome | store.Refusal | DatabaseError:
    """One message in its own transaction. A database error that is not an outage (a constraint a concurrent change
    broke, say) comes back as the outcome, so it answers this message only; an outage raises (every message still
    unanswered is a 503)."""
    try:
        return delivery_store(source=source, webhook_id=webhook_id, readings=readings, refused=refused)
    except store.REFUSALS as exc:
        return exc
    except (OperationalError, InterfaceError):
        raise
    except DatabaseError as exc:
        log.exception("message %s of source %s could not be stored", webhook_id, source.pk)
        return exc


_WHERE_DELIVERY = "WHERE source_id = %s AND webhook_id = %s"


def delivery_replay(*, source: Source, webhook_id: str) -> Outcome | None:
    """The first answer to this message, if it was already stored."""
    rows = select_rows(Delivery, ("id", "status", "response"), _WHERE_DELIVERY, [source.pk, webhook_id])
    return Outcome(rows[0].status, rows[0].response, replayed=True) if rows else None


def deliveries_prune(*, older_than: timedelta) -> int:
    """Forget deliveries older than `older_than` (at least 5 days: senders retry for up to about 3)."""
    if older_than < timedelta(days=5):
        raise ValidationError("Deliveries are kept at least 5 days.")
    deleted, _ = Delivery.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
