"""What a move does to handovers (issue 18): nothing of them travels, and a pending one is cancelled.

A handover is the seller's offer, on the source, of several things to a buyer there; its acceptance transfers
between two accounts of the source instance. Once one of its things has moved away (twins.events.TwinMovedAway,
in the release's transaction) the offer can no longer be carried out all or nothing, so a pending handover that
holds the thing is cancelled there, as its seller would: the buyer's link then says it is no longer open, and the
seller's list shows it cancelled. Completed, cancelled and failed handovers stay on the source as its record.
So this app contributes no part to the package.
"""

from __future__ import annotations

from handover.models import Handover
from handover.services import handover_cancel
from twins import events


def on_moved_away(event: events.TwinMovedAway) -> None:
    """TwinMovedAway, in the release's transaction: every pending handover holding the twin is cancelled."""
    pending = Handover.objects.pending().filter(things__twin_id=event.twin_id).select_related("seller").distinct()
    for handover in pending:
        handover_cancel(handover=handover, seller=handover.seller)


# Here rather than in apps.py: the move's share of handovers in one module (autodiscovered in TwinsConfig.ready).
events.subscribe(events.TwinMovedAway, on_moved_away, in_transaction=True)
