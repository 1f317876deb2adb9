"""Live updates: after a change commits, tell the open pages of the twin and of its owner.

Groups: `twin-<id>` (the private page) and `owner-<id>` (the cards page, the inbox badge). Pushes are scheduled
with transaction.on_commit so a rolled-back change is never announced. The consumers live in twins/consumers.py.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def twin_group(twin_id: int) -> str:
    return f"twin-{twin_id}"


def owner_group(owner_id: int) -> str:
    return f"owner-{owner_id}"


def _send(twin_id: int | None, owner_id: int, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "live.event", "event": event}
    try:
        if twin_id is not None:
            async_to_sync(layer.group_send)(twin_group(twin_id), message)
        async_to_sync(layer.group_send)(owner_group(owner_id), message)
    except Exception:  # a dead channel layer must never fail the request that already committed
        log.exception("live push failed for twin %s", twin_id)


def broadcast_after_commit(*, owner_id: int, event: dict[str, Any], twin_id: int | None = None) -> None:
    """Push `event` ({"kind": "reading" | "note" | "scan" | "message", ...}) once the transaction commits."""
    transaction.on_commit(lambda: _send(twin_id, owner_id, event))
