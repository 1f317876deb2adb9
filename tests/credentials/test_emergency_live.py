"""The rescuer's live connection (`/ws/emergency/<token>/`): readings of the granted kinds of the granted things
arrive, others never; a revocation closes it; an ended link is refused; every connection is logged."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from core.live import CLOSE_NOT_FOUND
from credentials import emergency
from credentials.models import EmergencyAccess, EmergencyGrant
from twins import services

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

PUSH_TIMEOUT = 3
HEADERS = [(b"origin", b"http://testserver"), (b"host", b"testserver"), (b"user-agent", b"Rescue tablet")]

add_reading = database_sync_to_async(services.reading_add)


@asynccontextmanager
async def listening(token: str):
    communicator = WebsocketCommunicator(application, f"/ws/emergency/{token}/", headers=HEADERS)
    try:
        connected, _ = await communicator.connect()
        assert connected
        yield communicator
    finally:
        await communicator.disconnect()


@database_sync_to_async
def open_grant(alice, *twins):
    return emergency.emergency_grant_create(
        guardian=alice, recipient="Mountain rescue", twins=list(twins), kinds=["location", "glucose"], hours=2
    )


@pytest.fixture
def watch(alice):
    return services.twin_create(owner=alice, name="Watch", reading_kind="glucose", reading_unit="mmol/L")


async def test_a_granted_kind_arrives_and_other_kinds_and_things_do_not(alice, watch, grinder):
    _grant, token = await open_grant(alice, watch)
    async with listening(token) as socket:
        await add_reading(twin=watch, value=72, kind="pulse", unit="bpm")  # not granted
        await add_reading(twin=grinder, value=9, kind="location")  # granted kind, thing not in the grant
        await add_reading(twin=watch, value=6.1)  # glucose: granted
        event = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        assert event == {
            "kind": "reading",
            "twin": 1,
            "reading": {"kind": "glucose", "value": 6.1, "unit": "mmol/L", "time": event["reading"]["time"]},
        }
        assert await socket.receive_nothing(timeout=0.3)


async def test_a_revocation_closes_an_open_connection(alice, watch):
    grant, token = await open_grant(alice, watch)
    async with listening(token) as socket:
        await database_sync_to_async(emergency.emergency_grant_revoke)(grant=grant)
        error = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        assert error["extra"] == {"code": CLOSE_NOT_FOUND}
        assert await socket.receive_output(timeout=PUSH_TIMEOUT) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


async def test_an_expired_grant_forwards_nothing_more_and_closes(alice, watch):
    grant, token = await open_grant(alice, watch)
    async with listening(token) as socket:
        # Expired behind the connection's back (no timer fires in this test): the next event re-checks the grant.
        await database_sync_to_async(
            lambda: EmergencyGrant.objects.filter(pk=grant.pk).update(valid_until=grant.created_at)
        )()
        await add_reading(twin=watch, value=6.3)
        error = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        assert error == {"message": "This emergency link has ended.", "extra": {"code": CLOSE_NOT_FOUND}}


async def test_an_ended_link_is_refused_and_every_connection_is_logged(alice, watch):
    grant, token = await open_grant(alice, watch)
    async with listening(token):
        pass
    await database_sync_to_async(emergency.emergency_grant_revoke)(grant=grant)
    async with listening(token) as socket:
        error = await socket.receive_json_from()
        assert error["extra"] == {"code": CLOSE_NOT_FOUND}
        assert await socket.receive_output() == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
    log = await database_sync_to_async(lambda: list(EmergencyAccess.objects.values_list("channel", "user_agent")))()
    assert log == [("live", "Rescue tablet")]


async def test_the_pass_a_presentation_earned_opens_the_same_live_view(alice, watch):
    grant, _token = await open_grant(alice, watch)
    async with listening(emergency.grant_pass(grant)) as socket:
        await add_reading(twin=watch, value=6.2)
        event = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        assert event["twin"] == 1 and event["reading"]["value"] == 6.2
        await database_sync_to_async(emergency.emergency_grant_revoke)(grant=grant)
        error = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        assert error["extra"] == {"code": CLOSE_NOT_FOUND}
