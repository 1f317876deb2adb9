"""A keeper's (or service party's) live private page (`/ws/twins/<slug>/`): the thing's readings and journal
arrive as they do for the owner, the owner's other things and badge never do, what the credential does not allow
is not sent, and a revoked or expired credential stops the socket at the next push (no cache grace)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from core.live import CLOSE_NOT_FOUND
from credentials import keepers
from credentials.models import AccessCredential
from owners.models import Notification
from owners.services import notify
from tests.twins.test_live import PUSH_TIMEOUT, assert_refused, headers_for, listening
from twins import access
from twins import services as twin_services

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

add_reading = database_sync_to_async(twin_services.reading_add)


@database_sync_to_async
def issue(twin, holder, role=AccessCredential.Role.KEEPER, capabilities=keepers.KEEPER_CAPABILITIES, hours=None):
    return keepers.access_credential_issue(
        twin=twin,
        issued_by=twin.owner,
        holder=holder,
        role=role,
        capabilities=capabilities,
        expires_at=timezone.now() + timedelta(hours=hours) if hours else None,
    )


@pytest.fixture
def bob_headers(bob):
    return headers_for(bob)


@pytest.fixture
def kettle(alice):
    return twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temperature", reading_unit="°C")


async def test_a_keeper_hears_the_kept_things_reading_not_the_owners_other_things(
    alice, bob, grinder, kettle, bob_headers
):
    await issue(grinder, bob)
    async with listening(f"/ws/twins/{grinder.slug}/", bob_headers) as socket:
        await add_reading(twin=kettle, value=90)  # alice's other thing: not his
        await database_sync_to_async(notify)(owner=alice, kind=Notification.Kind.SYSTEM, title="Alice's inbox")
        await add_reading(twin=grinder, value=12.5)
        event = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        assert event["kind"] == "reading" and event["thing"] == grinder.slug and event["reading"]["value"] == 12.5
        assert await socket.receive_nothing(timeout=0.3)


async def test_a_keeper_hears_a_journal_entry_of_the_kept_thing(bob, grinder, bob_headers):
    await issue(grinder, bob)
    async with listening(f"/ws/twins/{grinder.slug}/", bob_headers) as socket:
        await database_sync_to_async(twin_services.note_create)(twin=grinder, title="Descaled", text="")
        event = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        assert event["kind"] == "note" and event["note"]["title"] == "Descaled"
        assert await socket.receive_nothing(timeout=0.3)


async def test_a_keeper_still_hears_his_own_inbox_badge(bob, grinder, bob_headers):
    await issue(grinder, bob)
    async with listening(f"/ws/twins/{grinder.slug}/", bob_headers) as socket:
        await database_sync_to_async(notify)(owner=bob, kind=Notification.Kind.SYSTEM, title="Bob's inbox")
        event = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        assert event["kind"] == "message" and event["unread"] >= 1


async def test_a_revoked_keepers_socket_closes_at_the_next_push_instead_of_sending_it(bob, grinder, bob_headers):
    credential = await issue(grinder, bob)
    async with listening(f"/ws/twins/{grinder.slug}/", bob_headers) as socket:
        await database_sync_to_async(keepers.access_credential_revoke)(credential=credential)
        await add_reading(twin=grinder, value=13)
        assert await socket.receive_output(timeout=PUSH_TIMEOUT) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


async def test_an_expired_keepers_socket_closes_at_the_next_push(bob, grinder, bob_headers):
    credential = await issue(grinder, bob, hours=1)
    async with listening(f"/ws/twins/{grinder.slug}/", bob_headers) as socket:
        past = timezone.now() - timedelta(seconds=1)
        await database_sync_to_async(AccessCredential.objects.filter(pk=credential.pk).update)(expires_at=past)
        await add_reading(twin=grinder, value=13)
        assert await socket.receive_output(timeout=PUSH_TIMEOUT) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


async def test_a_revoked_keeper_is_refused_on_connect_like_a_stranger(bob, grinder, bob_headers):
    credential = await issue(grinder, bob)
    await database_sync_to_async(keepers.access_credential_revoke)(credential=credential)
    await assert_refused(f"/ws/twins/{grinder.slug}/", bob_headers, CLOSE_NOT_FOUND)


async def test_a_service_party_without_readings_hears_the_journal_but_no_reading(bob, grinder, bob_headers):
    await issue(grinder, bob, AccessCredential.Role.SERVICE, [access.VIEW, access.JOURNAL_READ], hours=2)
    async with listening(f"/ws/twins/{grinder.slug}/", bob_headers) as socket:
        await add_reading(twin=grinder, value=14)
        await database_sync_to_async(twin_services.note_create)(twin=grinder, title="Serviced", text="")
        event = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        assert event["kind"] == "note"
        assert await socket.receive_nothing(timeout=0.3)


async def test_a_service_party_without_view_is_refused(bob, grinder, bob_headers):
    await issue(grinder, bob, AccessCredential.Role.SERVICE, [access.READINGS_WRITE], hours=2)
    await assert_refused(f"/ws/twins/{grinder.slug}/", bob_headers, CLOSE_NOT_FOUND)
