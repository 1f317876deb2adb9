"""Domain events of the twins domain: the seam features hang on.

The core domain sends an event where something happened to a twin (created, a reading stored, a journal entry,
transferred, deactivated, moved away to or arrived from another instance), and so do features that record
something about a twin in the core's tables (ingest stores readings, tags records scans): every event type is
defined here, so a feature can hear another's events without importing it. Feature apps subscribe from their
``AppConfig.ready()``, so twins never imports them.

Two kinds of subscriber, chosen when subscribing:

- ``in_transaction=True``: called at once, inside the sender's transaction. For writes that must commit or roll
  back with the event (an outbox row, a redaction, a row of the feature's own). An exception rolls the whole
  change back, as any failure inside a service would.
- the default: called once the sender's transaction commits (``transaction.on_commit(robust=True)``), never for
  a change that rolled back. For what talks to the outside world (live pushes, DIDComm, email). One failing
  subscriber is logged and does not stop the others; the change has committed either way.

Payloads are small frozen dataclasses of ids and plain values, so a subscriber reads what it needs itself and an
event can cross a process boundary later (a queue) without change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction


@dataclass(frozen=True)
class TwinCreated:
    """A twin was made. `for_claim`: a manufacturer produced it for a buyer to claim (its owner is the
    organisation's account until then); what belongs to a first owner (an ownership credential) comes with the
    claim, which is a transfer."""

    twin_id: int
    owner_id: int
    for_claim: bool = False


@dataclass(frozen=True)
class ReadingsStored:
    """Readings of one twin were stored (by a page, the API, a webhook, the ingest gateway or MQTT), one event per
    twin per message or batch."""

    twin_id: int
    owner_id: int
    reading_ids: tuple[int, ...]
    count: int


@dataclass(frozen=True)
class ScanRecorded:
    """Someone opened a tag of the twin (tags). `scan_ids` may be empty when the scans were buffered and written
    later in bulk; `count` says how many."""

    twin_id: int
    owner_id: int
    scan_ids: tuple[int, ...]
    count: int
    by_owner: bool


@dataclass(frozen=True)
class JournalChanged:
    twin_id: int
    owner_id: int
    note_id: int
    action: str  # "create" | "edit" | "delete"


@dataclass(frozen=True)
class Transferred:
    """The twin changed hands: the DID log names the buyer, the seller has lost every capability over it."""

    twin_id: int
    offer_id: int
    seller_id: int
    buyer_id: int
    redacted_kinds: tuple[str, ...]


@dataclass(frozen=True)
class Deactivated:
    twin_id: int
    owner_id: int


@dataclass(frozen=True)
class LeavingChanged:
    """A move froze the twin (it is leaving: it takes no writes here) or thawed it (called off, failed), by a
    queryset update that sends no signal (twins.leaving.freeze, thaw). Subscribers to both kinds: in the transaction,
    and again after it commits (a finder who read the twin before the commit may have kept a page of it meanwhile:
    tags.public_cache drops the finder's kept pages)."""

    twin_id: int


@dataclass(frozen=True)
class TwinMovedAway:
    """On the source instance: the twin now lives at `moved_to` (the destination's base URL; twins.moving.release).
    Its DID log names the destination; nothing here may act for the twin any more (its agent answers "moved")."""

    twin_id: int
    owner_id: int
    moved_to: str


@dataclass(frozen=True)
class TwinArrived:
    """On the destination instance: a twin restored from another instance is live here (twins.moving.activate).
    `previous_did`: its DID there (same SCID, the source's domain). Its peers still address the source: features
    move what they keep (DIDComm connections rotate to this host)."""

    twin_id: int
    owner_id: int
    previous_did: str


@dataclass(frozen=True)
class ArrivalDiscarded:
    """On the destination instance: an arriving twin (restored, never live here) is about to be deleted because its
    move was called off (twins.moving.discard). Sent inside the transaction, before the delete: an in-transaction
    subscriber removes its own rows about the twin first (those that would keep the twin from being deleted)."""

    twin_id: int
    owner_id: int


Handler = Callable[[Any], None]

_in_transaction: dict[type, list[Handler]] = {}
_on_commit: dict[type, list[Handler]] = {}


def subscribe[E](event_type: type[E], handler: Callable[[E], None], *, in_transaction: bool = False) -> None:
    """Call `handler(event)` for every `event_type` sent from now on (idempotent: a second subscription of the same
    handler is ignored, so ``ready()`` may run twice in tests)."""
    handlers = (_in_transaction if in_transaction else _on_commit).setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(event_type: type, handler: Handler) -> None:
    for table in (_in_transaction, _on_commit):
        if handler in table.get(event_type, []):
            table[event_type].remove(handler)


def has_subscribers(event_type: type, *, in_transaction: bool) -> bool:
    """Whether anyone listens to `event_type` in that kind. A sender whose write is otherwise a single
    self-committing statement asks it, to open a transaction only when an in-transaction subscriber needs one."""
    return bool((_in_transaction if in_transaction else _on_commit).get(event_type))


def send(event: object) -> None:
    """Hand `event` to its subscribers: the in-transaction ones now, the others after the transaction commits."""
    for handler in _in_transaction.get(type(event), ()):
        handler(event)
    for handler in _on_commit.get(type(event), ()):
        # robust: Django logs a failing subscriber and goes on with the others; the change has committed.
        transaction.on_commit(partial(handler, event), robust=True)
