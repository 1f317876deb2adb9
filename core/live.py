"""Live updates: after a change commits, tell the open pages of the twin and of its owner.

Groups: `twin-<id>` (the private page) and `owner-<id>` (the cards page, the inbox badge, and every reading of
the owner's things: a private page picks its own thing's). Pushes are scheduled with transaction.on_commit so a
rolled-back change is never announced. The consumers live in twins/consumers.py; the event builders of the
twins domain in twins/pushes.py. This module knows no model: callers hand it ids and plain JSON.

Events are small JSON objects, sent to the browser as they are (the consumer adds `unread` to badge events):

- `{"kind": "reading", "thing": slug, "reading": {"id", "kind", "value", "unit", "time", "source"}, "latest": bool}`
  (`latest`: the reading became the thing's latest value, shown on its card). Built by twins.pushes.reading_event.
- `{"kind": "note", "thing": slug, "action": "create" | "edit" | "delete", "note": {"id", "title", "text", "time"}}`
- `{"kind": "scan", "count": n, "by_owner": bool}`
- `{"kind": "message", "item": "message" | "system", "thing": slug | None, "title": str}` (a new inbox item)
- `{"kind": "agent", "thing": slug}` (the twin's DIDComm agent received or sent a message; didcomm/timeline.py)
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers, get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

# Application close codes (4000–4999), the HTTP status they stand for plus 4000. A stranger and an unknown
# slug get the same code, so a closed socket does not tell whether a thing exists.
CLOSE_NOT_SIGNED_IN = 4401
CLOSE_NOT_FOUND = 4404
# The channel layer (Redis) cannot be reached: the page works, only its live updates do not.
CLOSE_UNAVAILABLE = 4503

# How long a push may take to reach the channel layer before it is logged and dropped.
PUSH_TIMEOUT = 2.0

# Kinds that change the inbox badge: every open page of the owner hears them, not only the thing's own page.
BADGE_KINDS = frozenset({"message", "scan"})


def twin_group(twin_id: int) -> str:
    return f"twin-{twin_id}"


def owner_group(owner_id: int) -> str:
    return f"owner-{owner_id}"


async def _group_send(layer, sends: list[tuple[str, dict[str, Any]]]) -> None:
    for group, message in sends:
        await layer.group_send(group, message)


# Pushes handed to the push loop and not yet sent, in the order they were handed over.
_outbox: collections.deque[list[tuple[str, dict[str, Any]]]] = collections.deque()
_outbox_lock = threading.Lock()
_draining = False
# At most this many events travel in one channel-layer message (`live.events`).
MAX_EVENTS_PER_MESSAGE = 100


def coalesce(sends: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """One channel-layer message per group for pushes queued together: a group with one pending message gets it
    as it is (`live.event`); several travel as one `live.events` message (`messages`, in order, at most
    MAX_EVENTS_PER_MESSAGE each), which the consumers unpack. A busy source (hundreds of readings a second for a
    fleet of one owner) costs one send to the owner's group per drain instead of one per reading."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group, message in sends:
        by_group.setdefault(group, []).append(message)
    out = []
    for group, messages in by_group.items():
        if len(messages) == 1:
            out.append((group, messages[0]))
            continue
        for start in range(0, len(messages), MAX_EVENTS_PER_MESSAGE):
            out.append((group, {"type": "live.events", "messages": messages[start : start + MAX_EVENTS_PER_MESSAGE]}))
    return out


async def _drain(layer) -> None:
    """On the push loop: send everything queued, coalesced per group, until the outbox is empty; each group's
    send given at most PUSH_TIMEOUT. One drain runs at a time, so pushes keep the order they were handed over."""
    global _draining
    while True:
        with _outbox_lock:
            if not _outbox:
                _draining = False
                return
            queued = list(_outbox)
            _outbox.clear()
        sends = [send for batch in queued for send in batch]
        for group, message in coalesce(sends):
            try:
                await asyncio.wait_for(layer.group_send(group, message), PUSH_TIMEOUT)
            except Exception:  # a dead channel layer must never fail anything; the change has committed
                log.exception("live push to %s failed", group)


def _hand_over(loop: asyncio.AbstractEventLoop, layer, sends: list[tuple[str, dict[str, Any]]]) -> None:
    """Queue `sends` for the push loop; start a drain there unless one is running (it will take these too)."""
    global _draining
    with _outbox_lock:
        _outbox.append(sends)
        if _draining:
            return
        _draining = True
    try:
        asyncio.run_coroutine_threadsafe(_drain(layer), loop)
    except Exception:
        with _outbox_lock:
            _draining = False
        raise


def _send(twin_id: int | None, owner_id: int, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    # `owner` lets the twin consumer notice that the thing changed hands while its page was open; `twin` and
    # `group` let it drop the owner-group copy of an event it also hears through the twin group.
    envelope = {"type": "live.event", "event": event, "owner": owner_id, "twin": twin_id}
    sends = [(owner_group(owner_id), {**envelope, "group": "owner"})]
    if twin_id is not None and event.get("kind") != "reading":
        # Readings travel through the owner's group only: the cards page needs every one, and a private page takes
        # its own thing's from there (twins/consumers.py). A fleet's readings then coalesce into one send per
        # drain instead of one per thing. (A thing that changed hands: its readings go to the new owner's group,
        # which the old owner's pages never joined.)
        sends.insert(0, (twin_group(twin_id), {**envelope, "group": "twin"}))
    try:
        if _needs_own_loop(layer):
            # A network layer (Redis) keeps its connection pool per event loop: async_to_sync would make a new
            # loop, hence a new connection, for every push. One long-lived loop per process, with its own layer
            # instance (so nobody else's flush or close touches its pool), keeps one pool.
            # The request does not wait for the push: it is queued for the loop, which sends what is queued in
            # order, coalesced per group (coalesce()).
            loop, push_layer = _push_loop(layer)
            _hand_over(loop, push_layer, sends)
        else:
            # In-memory layer (one process): its queues belong to the consumers' loop; async_to_sync is cheap here.
            async_to_sync(_group_send)(layer, sends)
    except Exception:  # a dead channel layer must never fail the request that already committed
        log.exception("live push failed for twin %s", twin_id)


def _needs_own_loop(layer) -> bool:
    from channels.layers import InMemoryChannelLayer

    if isinstance(layer, InMemoryChannelLayer):
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    # Called from inside an event loop's thread (an async consumer's sync_to_async worker does not count).
    return False


_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_loop_layer: tuple[int, Any] | None = None
_loop_lock = threading.Lock()


def _push_loop(layer) -> tuple[asyncio.AbstractEventLoop, Any]:
    """This process's push loop and layer, started on first use (after a gunicorn fork each worker starts its own;
    a settings change that replaces the channel layer gets a new push layer)."""
    global _loop, _loop_pid, _loop_layer, _draining
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            _loop_layer = None
            with _outbox_lock:  # a fork copies the parent's outbox and flag; its pushes are the parent's to send
                _outbox.clear()
                _draining = False
            threading.Thread(target=_loop.run_forever, name="live-push", daemon=True).start()
        if _loop_layer is None or _loop_layer[0] != id(layer):
            _loop_layer = (id(layer), channel_layers.make_backend(DEFAULT_CHANNEL_LAYER))
        return _loop, _loop_layer[1]


def broadcast_after_commit(*, owner_id: int, event: dict[str, Any], twin_id: int | None = None) -> None:
    """Push `event` ({"kind": "reading" | "note" | "scan" | "message", ...}) once the transaction commits."""
    transaction.on_commit(lambda: _send(twin_id, owner_id, event))
