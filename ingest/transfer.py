"""What a sale does to ingestion: the seller's sources stop feeding the thing.

A source is its owner's (one sender feeding some of their things, trusted by a secret configured in the sender).
After a sale the seller's sender must not store readings on the buyer's thing, and the buyer must not hold the
seller's source in any form: a link left on the sold thing would show it on the seller's source page under the
buyer's name for it, and a move of the thing would carry the source with its secret (ingest.portability exports
the current owner's links only, as a second guard). So the transfer's transaction removes every link of the thing
to a source that is not the buyer's; the buyer links their own sources as they like. Device keys are the thing's
(its hardware signs with them) and stay.
"""

from __future__ import annotations

from ingest.models import SourceThing
from twins import events


def on_transferred(event: events.Transferred) -> None:
    """Transferred, in the transfer's transaction (a single sale, a claim or each thing of a handover)."""
    SourceThing.objects.filter(twin_id=event.twin_id).exclude(source__owner_id=event.buyer_id).delete()


def connect() -> None:
    events.subscribe(events.Transferred, on_transferred, in_transaction=True)
