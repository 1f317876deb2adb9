"""WebSocket consumers for live pages: `/ws/twins/<slug>/` (a private page: its owner's, or a keeper's
or service party's who may open it) and `/ws/owner/` (every page).

Both need a session (AuthMiddlewareStack in config/asgi.py). A refused socket is accepted and then
closed with an application code and an error frame in the one error shape, because a close before the
handshake is answered by the server with a bare HTTP 403 and the browser would learn nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from core.live import BADGE_KINDS, CLOSE_NOT_FOUND, CLOSE_NOT_SIGNED_IN, CLOSE_UNAVAILABLE, owner_group, twin_group
from owners.selectors import unread_count
from twins import access
from twins.models import Twin

log = logging.getLogger(__name__)

# Backoff while the channel layer is unreachable (seconds).
RECONNECT_FIRST = 0.5
RECONNECT_MAX = 10.0

REFUSALS = {
    CLOSE_NOT_SIGNED_IN: "Sign in to follow live updates.",
    CLOSE_NOT_FOUND: "No such thing.",
    CLOSE_UNAVAILABLE: "Live updates are unavailable right now; the page still works. Reload it in a minute.",
}


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Joins its groups on connect and forwards `live.event` messages as JSON, and each of a `live.events`
    message's (several pushes coalesced for one group: core/live.py)."""

    owner_id: int | None = None
    joined: tuple[str, ...] = ()
    closing = False

    # Channels reads the channel layer through `channel_receive`; an error there (Redis restarting) would end the
    # socket. Through this property it waits the outage out and joins its groups again (a restarted Redis has
    # forgotten them), so an open page's live updates resume without a reload.
    @property
    def channel_receive(self):
        return self._receive_through_outages

    @channel_receive.setter
    def channel_receive(self, receive) -> None:
        self._layer_receive = receive

    async def _receive_through_outages(self) -> dict[str, Any]:
        delay = RECONNECT_FIRST
        while True:
            try:
                return await self._layer_receive()
            except (OSError, RedisError):
                log.warning("live socket: channel layer unavailable, retrying in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                await self._rejoin()

    async def _rejoin(self) -> None:
        try:
            for group in self.joined:
                await self.channel_layer.group_add(group, self.channel_name)
        except (OSError, RedisError):
            pass  # still down: the next failed receive tries again

    async def refuse(self, code: int) -> None:
        await self.accept()
        await self.send_json({"message": REFUSALS[code], "extra": {"code": code}})
        await self.close(code=code)

    async def join(self, *groups: str) -> None:
        try:
            for group in groups:
                await self.channel_layer.group_add(group, self.channel_name)
                self.joined += (group,)
        except (OSError, RedisError):  # the channel layer is down: say so instead of failing the handshake (500)
            log.warning("live socket refused: the channel layer is unavailable")
            return await self.refuse(CLOSE_UNAVAILABLE)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except (OSError, RedisError):  # the membership expires on its own (channel layer group_expiry)
                log.warning("live socket: could not leave %s (channel layer unavailable)", group)

    async def live_events(self, message: dict[str, Any]) -> None:
        for one in message["messages"]:
            if self.closing:
                return
            await self.live_event(one)

    async def live_event(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    def signed_in_user(self):
        user = self.scope.get("user")
        return user if user is not None and user.is_authenticated else None

    async def forward(self, event: dict[str, Any]) -> None:
        if event.get("kind") in BADGE_KINDS:
            # Counted when sent rather than by the writer: a coalesced scan may not change the count, and the
            # scan hot path stays free of the extra query.
            event = {**event, "unread": await database_sync_to_async(unread_count)(owner=self.scope["user"])}
        await self.send_json(event)


class OwnerConsumer(LiveConsumer):
    """Everything that happens to the signed-in owner's things: cards and the inbox badge."""

    async def connect(self) -> None:
        user = self.signed_in_user()
        if user is None:
            return await self.refuse(CLOSE_NOT_SIGNED_IN)
        self.owner_id = user.pk
        await self.join(owner_group(user.pk))

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.forward(message["event"])


class TwinConsumer(LiveConsumer):
    """One thing's private page: its own events, and the viewer's badge events about any other thing.

    The owner, or anyone a feature's credential lets open the page (twins.access VIEW: a keeper, a service
    party). Such a viewer also joins the owner's group, where the thing's readings travel (core/live.py), and
    takes from it only this thing's readings; their own group gives them their badge only. Their access is
    asked again, from the database, before every event forwarded (no cache): a revoked or expired credential
    closes the socket at the next push instead of sending it."""

    twin_id: int | None = None
    # The thing's owner when the socket opened; a non-owner's socket is one that is not theirs.
    twin_owner_id: int | None = None

    async def connect(self) -> None:
        user = self.signed_in_user()
        if user is None:
            return await self.refuse(CLOSE_NOT_SIGNED_IN)
        slug = self.scope["url_route"]["kwargs"]["slug"]
        found = await database_sync_to_async(self.viewable_twin)(user, slug)
        if found is None:
            return await self.refuse(CLOSE_NOT_FOUND)
        self.twin_id, self.twin_owner_id = found
        self.owner_id = user.pk
        groups = [twin_group(self.twin_id), owner_group(user.pk)]
        if self.twin_owner_id != user.pk:
            groups.append(owner_group(self.twin_owner_id))
        await self.join(*groups)

    @staticmethod
    def viewable_twin(user, slug: str) -> tuple[int, int] | None:
        """(twin id, owner id) of the thing if the user may open its page now, else None."""
        twin = Twin.objects.filter(slug=slug).only("pk", "owner_id").first()
        if twin is None:
            return None
        granted = access.access_for(user, twin)
        if granted is None or not granted.can(access.VIEW):
            return None
        return twin.pk, twin.owner_id

    def _access_now(self) -> access.Access | None:
        """A non-owner's access to this thing now, asked of the database (the providers keep no cache); None once
        it no longer lets them open the page (revoked, expired, or the thing changed hands)."""
        twin = Twin.objects.filter(pk=self.twin_id).only("pk", "owner_id").first()
        if twin is None or twin.owner_id != self.twin_owner_id:
            return None
        granted = access.access_for(self.scope["user"], twin)
        return granted if granted is not None and granted.can(access.VIEW) else None

    async def live_event(self, message: dict[str, Any]) -> None:
        if self.closing:
            return
        if self.twin_owner_id != self.owner_id:
            return await self.kept_event(message)
        event = message["event"]
        if message.get("group") == "owner":
            if event.get("kind") == "reading":
                # Readings come through the owner group only (core/live.py): this thing's, not the others'.
                if message.get("twin") != self.twin_id:
                    return
            # This thing's other events arrive through its twin group; from the owner group only the badge.
            elif message.get("twin") == self.twin_id or event.get("kind") not in BADGE_KINDS:
                return
        elif message.get("owner") != self.owner_id:
            # The thing was transferred while its page was open: the new owner's events are not ours.
            return await self.close_not_found()
        await self.forward(event)

    async def kept_event(self, message: dict[str, Any]) -> None:
        """A keeper's or service party's socket: their own badge, and this thing's events their access allows."""
        event = message["event"]
        kind = event.get("kind")
        if message.get("group") == "owner" and message.get("owner") == self.owner_id:
            if kind in BADGE_KINDS:  # their own inbox, from their own group
                await self.forward(event)
            return
        if message.get("owner") != self.twin_owner_id:
            if message.get("group") == "twin":  # the thing changed hands: whatever it gave them ended with the sale
                await self.close_not_found()
            return
        if message.get("twin") != self.twin_id:
            return  # the owner's other things, and the owner's badge, are not theirs to hear
        need = KEPT_EVENT_NEEDS.get(kind)
        if need is None or (kind == "reading") != (message.get("group") == "owner"):
            return
        granted = await database_sync_to_async(self._access_now)()
        if granted is None:
            return await self.close_not_found()
        if granted.can(need):
            await self.forward(event)

    async def close_not_found(self) -> None:
        await self.channel_layer.group_discard(twin_group(self.twin_id), self.channel_name)
        self.joined = tuple(group for group in self.joined if group != twin_group(self.twin_id))
        self.closing = True
        await self.close(code=CLOSE_NOT_FOUND)


# What a non-owner's socket forwards about the thing, and the capability each needs (the page shows the same).
KEPT_EVENT_NEEDS = {"reading": access.READINGS_READ, "note": access.JOURNAL_READ}
