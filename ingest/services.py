"""Writes for ingestion: sources and their secrets, thing links, and storing a verified delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.ratelimit import Limit
from ingest import devices
from ingest.mapping import PayloadError, PointerSyntaxError, RawReading, clean_mapping
from ingest.models import Delivery, Source, SourceThing
from ssi import vault, webhooks
from twins import services as twin_services
from twins.history import RowPlan, select_rows
from twins.live import broadcast_after_commit
from twins.models import Reading, Twin

MAX_OVERLAP = timedelta(days=30)


def _seal(secret: str) -> bytes:
    return vault.seal(settings.KEY_ENCRYPTION_KEY, secret.encode())


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
    if twin.owner_id != source.owner_id:
        raise ValidationError({"twin": "Only your own things can be linked."})
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


# What receiving reads of a source's things (the rest stays deferred).
THING_FIELDS = ("id", "owner_id", "slug", "reading_kind", "reading_unit", "require_device_signature")
SOURCE_FIELDS = tuple(f.attname for f in Source._meta.concrete_fields)


def source_with_things(public_id: str) -> Source | None:
    """The source and its things (only the owner's own: a link can outlive nothing else) in one query, written
    by hand: compiling the two querysets cost more than the database answering them. The things are kept on the
    source for :func:`resolve_readings` of this message only."""
    source_plan = RowPlan.of(Source, SOURCE_FIELDS, "s")
    twin_plan = RowPlan.of(Twin, THING_FIELDS, "t")
    sql = (
        f"SELECT {source_plan.columns}, l.external_id, {twin_plan.columns}"  # noqa: S608 (names from metadata)
        f" FROM {Source._meta.db_table} s"
        f" LEFT JOIN ({SourceThing._meta.db_table} l JOIN {Twin._meta.db_table} t ON t.id = l.twin_id)"
        "   ON l.source_id = s.id AND t.owner_id = s.owner_id"
        " WHERE s.public_id = %s ORDER BY l.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [public_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    source = source_plan.instance(rows[0])
    links = []
    width = source_plan.width
    for row in rows:
        if row[width + 1] is None:  # no linked thing
            continue
        links.append((row[width] or "", twin_plan.instance(row, width + 1)))
    source._prefetched_things = links
    return source


def _things(source: Source) -> tuple[dict[str, Twin], dict[str, Twin], list[Twin]]:
    """The source's things by external id and by slug (only the owner's own: a link can outlive nothing else)."""
    links = getattr(source, "_prefetched_things", None)
    if links is None:
        query = SourceThing.objects.filter(source=source, twin__owner_id=source.owner_id).select_related("twin")
        links = [(link.external_id, link.twin) for link in query]
    by_external: dict[str, Twin] = {}
    by_slug: dict[str, Twin] = {}
    twins = []
    for external_id, twin in links:
        twins.append(twin)
        by_slug[twin.slug] = twin
        if external_id:
            by_external[external_id] = twin
    return by_external, by_slug, twins


def resolve_readings(*, source: Source, raw: list[RawReading], now: datetime) -> dict[Twin, list[Reading]]:
    """Readings grouped by twin, defaults applied, device signatures checked (ingest.devices): a signed reading
    comes back device-signed. PayloadError names the field of an unknown thing, of a device signature that does
    not verify, or of the missing signature of a thing that requires one."""
    by_external, by_slug, twins = _things(source)
    only = twins[0] if len(twins) == 1 else None
    grouped: dict[int, tuple[Twin, list[Reading]]] = {}
    keys: dict[int, dict] | None = None
    for item in raw:
        if item.thing is None:
            if only is None:
                raise PayloadError(item.thing_pointer, "Name the thing: this source feeds more than one, or none.")
            twin = only
        else:
            twin = by_external.get(item.thing) or by_slug.get(item.thing)
            if twin is None:
                raise PayloadError(item.thing_pointer, "No thing of this source has that slug or external id.")
        kind = item.kind or twin.reading_kind
        unit = item.unit if item.unit is not None else (twin.reading_unit if kind == twin.reading_kind else "")
        reading = twin_services.new_reading(
            twin_id=twin.pk, kind=kind, value=item.value, unit=unit, time=item.time or now, source=Reading.Source.API
        )
        if item.signature is not None or twin.require_device_signature:
            if keys is None:
                keys = devices.active_keys([twin.pk for twin in twins])
            devices.check_reading(item=item, reading=reading, twin=twin, keys=keys.get(twin.pk, {}))
        grouped.setdefault(twin.pk, (twin, []))[1].append(reading)
    return {twin: readings for twin, readings in grouped.values()}


def delivery_store(*, source: Source, webhook_id: str, readings: dict[Twin, list[Reading]]) -> Outcome:
    """Store every reading of the delivery in one transaction, or nothing; exactly once per webhook id.

    The Delivery row is inserted first, in the same transaction: a concurrent delivery of the same message
    blocks on the unique index until this one commits, then fails and answers with this one's response.
    """
    count = sum(len(items) for items in readings.values())
    body = {"stored": count, "webhook_id": webhook_id}
    try:
        with transaction.atomic():
            if not _delivery_insert(source, webhook_id, body):
                # Stored meanwhile by a concurrent delivery of the same message, which has committed (the insert
                # waited for it): nothing was written in this transaction; answer with its response.
                first = delivery_replay(source=source, webhook_id=webhook_id)
                if first is None:
                    raise IntegrityError("delivery conflict without a first delivery")
                return first
            # Twin row locks in primary-key order, so two batches naming the same twins cannot deadlock.
            for twin in sorted(readings, key=lambda twin: twin.pk):
                stored, latest = twin_services.readings_store(twin=twin, readings=readings[twin])
                shown = latest or max(stored, key=lambda reading: reading.time)
                # The shape of twins.live.reading_event, plus how many readings the message brought.
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
                        "latest": latest is not None,
                        "count": len(stored),
                    },
                )
    except IntegrityError:
        first = Delivery.objects.filter(source=source, webhook_id=webhook_id).first()
        if first is None:
            raise
        return Outcome(first.status, first.response, replayed=True)
    return Outcome(200, body)


_INSERT_DELIVERY = (
    f"INSERT INTO {Delivery._meta.db_table} (source_id, webhook_id, status, response, created_at)"  # noqa: S608
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (source_id, webhook_id) DO NOTHING RETURNING id"
)
_WHERE_DELIVERY = "WHERE source_id = %s AND webhook_id = %s"


def _delivery_insert(source: Source, webhook_id: str, body: dict[str, Any]) -> bool:
    """Insert the Delivery row; False if the unique (source, webhook_id) constraint says this message is stored
    already. On PostgreSQL a concurrent uncommitted insert of the same message makes this wait for its outcome,
    as the plain INSERT did; the constraint stays the arbiter."""
    response = Delivery._meta.get_field("response").get_db_prep_save(body, connection)
    with connection.cursor() as cursor:
        created = connection.ops.adapt_datetimefield_value(timezone.now())
        cursor.execute(_INSERT_DELIVERY, [source.pk, webhook_id, 200, response, created])
        return cursor.fetchone() is not None


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
