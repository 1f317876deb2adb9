"""Whether a thing takes readings here (issue 18): not moved away, not still arriving, not on its way to another host.

Receiving asks twice. Before the write (ingest.services.resolve_readings), on the things as read with the source:
a moved or arriving thing's readings are left out of the message and named (the others are stored); a leaving
thing's refuse the whole message (ingest.receive). Then again under the things' row locks in the write itself
(ingest.store: :func:`check_locked`, and the same condition in ingest_store_small), because a move's confirmation
or release may commit between the two: a message that raced one stores nothing and is refused in the same words.

The three states, in the order they are checked: ``moved_to`` (released: readings go to the new host; a moved
thing keeps ``leaving_to``), ``arriving`` (restored here, the old host has not let go yet), ``leaving_to`` (the
owner confirmed a move away: twins.leaving, 503 with Retry-After, the sender tries again and then reaches the new
host through the old one's 308).
"""

from __future__ import annotations

from collections.abc import Iterable

from twins import leaving
from twins.leaving import TwinLeaving
from twins.models import Twin

# What the checks read of a thing (with its id and slug), on every path that reads or locks things for a message.
FIELDS = ("moved_to", "arriving", "leaving_to")


class NotLive(Exception):
    """A thing of the message moved away (or turned out to be still arriving) between reading it and locking it:
    nothing of the message was stored (409, in :func:`not_live_reason`'s words)."""

    def __init__(self, reason: str, twin: Twin) -> None:
        super().__init__(reason)
        self.message = reason
        self.twin = twin


def not_live_reason(twin: Twin) -> str | None:
    """Why readings for `twin` are not stored here for good (issue 18): it moved to another host, or it is still
    arriving from one (twins.moving.is_live); None while it lives here (a leaving thing lives here still)."""
    if twin.moved_to:
        return f"Thing {twin.slug} has moved to {twin.moved_to.rstrip('/')}: send its readings there."
    if twin.arriving:
        return f"Thing {twin.slug} is still arriving here from its old host: send its readings again shortly."
    return None


def is_leaving(twin: Twin) -> bool:
    """On its way to another host (the move confirmed, not released yet): readings wait and are sent again."""
    return bool(twin.leaving_to) and not twin.moved_to and not twin.arriving


def leaving_reason(twin: Twin) -> str:
    """Why `twin`'s readings are not recorded here now, in twins.leaving's words (try again in a minute)."""
    return leaving.refusal(twin).message


def leaving_refusal(twins: list[Twin]) -> TwinLeaving:
    """The refusal of a whole message naming the leaving `twins` (at least one): twins.leaving's words for the
    first, the others named, and that nothing of the message was stored, so sending it again is safe."""
    twins = list({twin.pk: twin for twin in twins}.values())  # a thing named by slug and by external id: once
    refusal = leaving.refusal(twins[0])
    others = [twin.slug for twin in twins[1:]]
    also = f" So are {', '.join(others)}." if others else ""
    refusal.message = (
        f"{refusal.message}{also} Nothing of this message was stored: send all of it again then (the same"
        " webhook-id is fine)."
    )
    refusal.args = (refusal.message,)
    refusal.extra = {**refusal.extra, "leaving": [twin.slug for twin in twins]}
    return refusal


def check_locked(twins: Iterable[Twin]) -> None:
    """Refuse the message if a thing of it, as locked for the write, no longer lives here: :class:`NotLive` for a
    moved or arriving one, TwinLeaving (503, Retry-After) for one on its way. The rows must carry :data:`FIELDS`."""
    gone = []
    for twin in twins:
        reason = not_live_reason(twin)
        if reason is not None:
            raise NotLive(reason, twin)
        if is_leaving(twin):
            gone.append(twin)
    if gone:
        raise leaving_refusal(gone)
