"""The ingest part of a moving twin (issue 18): the sources that feed it, and its device keys.

A source is its owner's (one sender feeding some of their things), named in its hook URL by ``public_id`` and
trusted by its Standard Webhooks secret, both configured in the sender. For the sender to go on unchanged, both
travel: the source is made here for the destination owner with the same ``public_id``, the same name, mapping and
rate limit, and the same secret (unsealed in the package, sealed here again; a previous secret in its rotation
overlap too), linked to the twin under the same external id. The source's accepted webhook ids travel with it,
so a message the source already took is still answered from the record, not stored twice (SECURITY 32). When
another thing of the same source moved here before, the source is already here and only gains the link (and the
webhook ids it lacks). The source answers its hook URL on the old host with a 308 to the same path here once
every thing it feeds there has moved here (ingest.receive.elsewhere), and forgets the secret then
(:func:`on_moved_away`).

Device keys (public keys only) travel with their labels and revocations, so device-signed readings keep
verifying and a revoked key still verifies nothing new.

Not moved: readings still waiting for their history entry (ingest.PendingReadings): the history part takes the
twin's history after its catch-ups.

A move called off after the package arrived (twins.moving.discard) deletes the arriving twin, and with it its links
and device keys; the sources are the owner's and would stay. So each restore records, per source
(ingest.RestoredSource), whether it made the source or which Delivery rows it added to one that was here already,
and :func:`on_arrival_discarded` removes exactly those: a source made for the arrival goes (its deliveries with it)
unless another thing uses it by now, and then stays with it. The records go when the thing arrives.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from core import vault
from ingest.devices import decode_signature, signed_message
from ingest.models import Delivery, DeviceKey, RestoredSource, Source, SourceThing
from ssi import webhooks
from ssi.errors import SSIError
from ssi.keys import VerifyKey
from twins import events
from twins.models import Reading, Twin
from twins.portability import Arrival, PackageError, Part, register


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _secret(sealed: bytes | memoryview | None) -> str | None:
    return base64.b64encode(vault.unseal(sealed)).decode() if sealed else None


def _source(link: SourceThing) -> dict[str, Any]:
    source = link.source
    return {
        "public_id": source.public_id,
        "name": source.name,
        "secret": _secret(source.secret_sealed),
        "previous_secret": _secret(source.previous_secret_sealed),
        "previous_valid_until": _iso(source.previous_valid_until),
        "mapping": source.mapping,
        "rate_limit": source.rate_limit,
        "created_at": _iso(source.created_at),
        "external_id": link.external_id,
        "deliveries": [
            {**row, "created_at": _iso(row["created_at"])}
            for row in Delivery.objects.filter(source=source)
            .order_by("created_at", "id")
            .values("webhook_id", "status", "response", "created_at")
        ],
    }


def export(twin: Twin) -> dict[str, Any] | None:
    # The current owner's sources only: a previous owner's link left on the thing (ingest.transfer removes them at
    # a sale) would carry their secret to the destination, and with it the power to sign for their other things.
    links = list(
        SourceThing.objects.filter(twin=twin, source__owner_id=twin.owner_id).select_related("source").order_by("id")
    )
    keys = list(DeviceKey.objects.filter(twin=twin).order_by("created_at", "id"))
    if not links and not keys:
        return None
    return {
        "sources": [_source(link) for link in links],
        "device_keys": [
            {
                "public_key": key.public_key,
                "label": key.label,
                "created_at": _iso(key.created_at),
                "revoked_at": _iso(key.revoked_at),
            }
            for key in keys
        ],
    }


def _source_here(data: dict[str, Any], arrival: Arrival) -> tuple[Source, bool]:
    """The source here with the package's ``public_id`` (the owner's own), or one made now; and whether it was."""
    source = Source.objects.filter(public_id=data["public_id"]).first()
    if source is not None:
        if source.owner_id != arrival.owner.pk:
            raise PackageError("A source that feeds this thing belongs to another account on this instance.")
        return source, False
    source = Source.objects.create(
        owner=arrival.owner,
        public_id=data["public_id"],
        name=data["name"],
        secret_sealed=vault.seal(base64.b64decode(data["secret"])),
        previous_secret_sealed=vault.seal(base64.b64decode(data["previous_secret"]))
        if data["previous_secret"]
        else None,
        previous_valid_until=_when(data["previous_valid_until"]),
        mapping=data["mapping"],
        rate_limit=data["rate_limit"],
    )
    Source.objects.filter(pk=source.pk).update(created_at=_when(data["created_at"]))
    return source, True


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    twin = arrival.twin
    for item in data.get("sources") or []:
        source, made = _source_here(item, arrival)
        if item["external_id"] and SourceThing.objects.filter(source=source, external_id=item["external_id"]).exists():
            raise PackageError(f"Source {source.name} already names another thing {item['external_id']!r} here.")
        SourceThing.objects.create(source=source, twin=twin, external_id=item["external_id"])
        known = set(Delivery.objects.filter(source=source).values_list("webhook_id", flat=True))
        fresh = [row for row in item["deliveries"] if row["webhook_id"] not in known]
        restored = Delivery.objects.bulk_create(
            [
                Delivery(source=source, webhook_id=row["webhook_id"], status=row["status"], response=row["response"])
                for row in fresh
            ],
            batch_size=500,
        )
        # created_at is automatic (bulk_create stamped now): the source's times back, in one UPDATE per batch.
        for delivery, row in zip(restored, fresh, strict=True):
            delivery.created_at = _when(row["created_at"])
        Delivery.objects.bulk_update(restored, ["created_at"], batch_size=500)
        RestoredSource.objects.create(
            twin=twin, source=source, made=made, delivery_ids=[] if made else [row.pk for row in restored]
        )
    for item in data.get("device_keys") or []:
        key = DeviceKey.objects.create(
            twin=twin, public_key=item["public_key"], label=item["label"], revoked_at=_when(item["revoked_at"])
        )
        DeviceKey.objects.filter(pk=key.pk).update(created_at=_when(item["created_at"]))
    _recheck_device_signed(twin)


def _signed_by_device(reading: Reading, keys: dict[str, DeviceKey]) -> bool:
    """Whether ``reading``'s device signature holds here: by one of the thing's device keys, not revoked before the
    reading was stored, over the signed content, which names the reading's own value."""
    key = keys.get(reading.device_key)
    if key is None or (key.revoked_at is not None and key.revoked_at <= reading.created_at):
        return False
    signed = reading.signed_content
    if not isinstance(signed, dict) or "value" not in signed:
        return False
    try:
        if float(signed["value"]) != reading.value:
            return False
        VerifyKey.from_multibase(key.public_key).verify(signed_message(signed), decode_signature(reading.signature))
    except (SSIError, TypeError, ValueError, OverflowError):
        return False
    return True


def _recheck_device_signed(twin: Twin) -> None:
    """A reading arrives "device-signed" only if its signature holds here: the package is the old host's word, and
    device signatures exist so that nobody, its owner included, can pass off a typed value as the device's. The
    readings part restores every reading unmarked, with the key and signature it came with; this marks those whose
    signature holds. One that does not stays an ordinary reading (its key and signature kept); the move goes on."""
    keys = {key.public_key: key for key in DeviceKey.objects.filter(twin=twin)}
    claimed = (
        Reading.objects.filter(twin=twin)
        .exclude(signature="")
        .exclude(device_key="")
        .only("id", "value", "created_at", "device_key", "signature", "signed_content")
    )
    genuine = [reading.pk for reading in claimed.iterator(chunk_size=1000) if _signed_by_device(reading, keys)]
    for start in range(0, len(genuine), _CHUNK):
        Reading.objects.filter(pk__in=genuine[start : start + _CHUNK]).update(device_signed=True)


# Rows deleted per statement (a long list of ids in one IN would pass SQLite's limit on parameters).
_CHUNK = 500


def on_arrival_discarded(event: events.ArrivalDiscarded) -> None:
    """ArrivalDiscarded, in the discarding transaction (before the twin and its links go): what the restore put in
    sources goes. A source made for this arrival goes whole, unless another thing uses it by now: then it stays
    theirs (another arrival's record takes it over, so that arrival called off removes it). Delivery rows the
    package added to a source that was here already go; the source and its own rows stay."""
    for record in RestoredSource.objects.filter(twin_id=event.twin_id).order_by("source_id"):
        if record.made:
            users = SourceThing.objects.filter(source_id=record.source_id).exclude(twin_id=event.twin_id)
            if not users.exists():
                Source.objects.filter(pk=record.source_id).delete()
                continue
            others = RestoredSource.objects.filter(source_id=record.source_id).exclude(twin_id=event.twin_id)
            others.update(made=True, delivery_ids=[])
            continue
        ids = record.delivery_ids
        for start in range(0, len(ids), _CHUNK):
            Delivery.objects.filter(source_id=record.source_id, pk__in=ids[start : start + _CHUNK]).delete()
    RestoredSource.objects.filter(twin_id=event.twin_id).delete()


def on_moved_away(event: events.TwinMovedAway) -> None:
    """TwinMovedAway, in the release's transaction: a source none of whose things is still here (every one moved
    away) forgets its webhook secrets. The new host trusts the same secret; kept here, it would let whoever later
    reads this database (and its key) sign readings the new host stores. The old host needs it no more: it answers
    such a source's messages before verifying them, with a 308 to the new host (ingest.receive.elsewhere). The
    secret becomes a fresh random one nobody was ever given; a source that still feeds a thing here keeps its own."""
    for source_id in SourceThing.objects.filter(twin_id=event.twin_id).values_list("source_id", flat=True):
        if SourceThing.objects.filter(source_id=source_id, twin__moved_to="").exists():
            continue
        forgotten = vault.seal(webhooks.new_secret().encode())
        Source.objects.filter(pk=source_id).update(
            secret_sealed=forgotten, previous_secret_sealed=None, previous_valid_until=None
        )


def on_twin_arrived(event: events.TwinArrived) -> None:
    """TwinArrived: the arrival stands, what it restored is the owner's like anything else (the records go)."""
    RestoredSource.objects.filter(twin_id=event.twin_id).delete()


register(
    Part(
        name="ingest",
        export=export,
        restore=_restore,
        after=("twin", "readings"),
        what="sources and device keys",
        replaces=(
            "ingest.SourceThing",
            "ingest.DeviceKey",
            "ingest.PendingReadings",
            "ingest.HistoryFlush",
            "ingest.RestoredSource",
        ),
    )
)
# Here rather than in apps.py: the move's share of ingest in one module (autodiscovered in TwinsConfig.ready).
events.subscribe(events.ArrivalDiscarded, on_arrival_discarded, in_transaction=True)
events.subscribe(events.TwinArrived, on_twin_arrived, in_transaction=True)
events.subscribe(events.TwinMovedAway, on_moved_away, in_transaction=True)
