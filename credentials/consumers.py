"""`/ws/emergency/<token>/`: the rescuer's live view of an emergency grant (credentials.emergency).

No session: the link's token is the authority, checked against the database on connect and again before every
event forwarded, so a revoked or expired grant sends nothing more; the connection is also closed at the expiry
(a timer) and at a revocation (the grant's group is told once it commits). Readings come through the guardian's
owner group (core.live sends every reading there); only readings of the granted kinds of the granted twins pass,
reduced to kind, value, unit and time, with the twin named by its number in the grant rather than its slug.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from django.utils import timezone

from core.live import CLOSE_NOT_FOUND, owner_group
from core.ratelimit import secret_key_id
from credentials import emergency
from credentials.models import EmergencyAccess
from twins.consumers import LiveConsumer

ENDED = "This emergency link has ended."


class EmergencyConsumer(LiveConsumer):
    grant_id: int | None = None
    kinds: frozenset[str] = frozenset()
    targets: dict[int, int] = {}
    timer: asyncio.TimerHandle | None = None

    async def connect(self) -> None:
        token = self.scope["url_route"]["kwargs"]["token"]
        opened = await database_sync_to_async(self._open)(token)
        if opened is None:
            await self.accept()
            await self.send_json({"message": ENDED, "extra": {"code": CLOSE_NOT_FOUND}})
            await self.close(code=CLOSE_NOT_FOUND)
            return
        grant, self.targets = opened
        self.grant_id, self.kinds, self.owner_id = grant.pk, frozenset(grant.kinds), grant.guardian_id
        await self.join(owner_group(grant.guardian_id), emergency.ended_group(grant.pk))
        seconds = max((grant.valid_until - timezone.now()).total_seconds(), 0)
        self.timer = asyncio.get_running_loop().call_later(seconds, lambda: asyncio.ensure_future(self.end()))

    def _open(self, token: str):
        grant = emergency.grant_for_token(token)
        if grant is None:
            return None
        headers = dict(self.scope.get("headers") or [])
        client = (self.scope.get("client") or ("", 0))[0] or ""
        emergency.access_record(
            grant=grant,
            channel=EmergencyAccess.Channel.LIVE,
            client=secret_key_id(client) if client else "",
            user_agent=headers.get(b"user-agent", b"").decode("latin-1"),
        )
        return grant, emergency.live_targets(grant)

    async def disconnect(self, code: int) -> None:
        if self.timer is not None:
            self.timer.cancel()
        await super().disconnect(code)

    async def end(self) -> None:
        if self.closing:
            return
        self.closing = True
        try:
            await self.send_json({"message": ENDED, "extra": {"code": CLOSE_NOT_FOUND}})
            await self.close(code=CLOSE_NOT_FOUND)
        except Exception:  # noqa: S110 - the socket is already gone
            pass

    async def emergency_ended(self, message: dict[str, Any]) -> None:
        await self.end()

    async def live_event(self, message: dict[str, Any]) -> None:
        event = message.get("event") or {}
        reading = event.get("reading") or {}
        number = self.targets.get(message.get("twin"))
        if self.closing or event.get("kind") != "reading" or number is None or reading.get("kind") not in self.kinds:
            return
        if message.get("owner") != self.owner_id:
            return
        if not await database_sync_to_async(emergency.grant_is_open)(self.grant_id):
            await self.end()
            return
        await self.send_json(
            {
                "kind": "reading",
                "twin": number,
                "reading": {key: reading.get(key) for key in ("kind", "value", "unit", "time")},
            }
        )
