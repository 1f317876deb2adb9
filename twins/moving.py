"""Moving a twin to another instance (issue 18): the twins side of it, with no HTTP in it.

The moves app runs the protocol between the two instances (/work/briefs/move-design.md); this module is what it
asks of the core domain. Work in progress: the signatures are the contract, the bodies land next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from owners.models import Owner
from twins.models import Twin


def can_move(twin: Twin) -> str | None:
    """Why ``twin`` cannot move to another instance now, in words its owner can act on; None when it can."""
    raise NotImplementedError


def move_entries(twin: Twin, *, by: Owner, new_domain: str, new_update_key: str, new_next_key_hash: str) -> list[dict]:
    """The signed DID log entries that move ``twin`` to ``new_domain`` (same SCID and path) and hand its log to the
    destination owner's keys; NOT stored (release stores them once the destination has the twin)."""
    raise NotImplementedError


def arrive(package: Mapping[str, Any], *, owner: Owner, source_url: str, destination_url: str) -> Twin:
    """On the destination: restore ``package`` for ``owner``, not live yet (``arriving``)."""
    raise NotImplementedError


def release(twin: Twin, *, entries: list[dict], destination_url: str) -> Twin:
    """On the source, once the destination holds the twin: store the move entries, mark it moved. Idempotent."""
    raise NotImplementedError


def activate(twin: Twin) -> Twin:
    """On the destination, once the source has let go: the twin is live here. Idempotent."""
    raise NotImplementedError


def is_live(twin: Twin) -> bool:
    """Whether this instance is where the twin lives now (not moved away, not still arriving)."""
    return not twin.moved_to and not twin.arriving
