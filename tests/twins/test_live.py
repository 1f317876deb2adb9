"""Live pages over WebSockets: who may listen, and what they hear after a commit (and only after a commit)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client

from config.asgi import application
from core.live import CLOSE_NOT_FOUND, CLOSE_NOT_SIGNED_IN, CLOSE_UNAVAILABLE
from owners.models import Notification, Owner
from owners.services import notify
from tests.redis_dbs import redis_url
from twins import services
from twins.models import Twin

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

PUSH_TIMEOUT = 3


def headers_for(owner: Owner | None) -> list[tuple[bytes, bytes]]:
    """What a browser sends on the handshake: its origin and, when signed in, the session cookie."""
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if owner is not None:
        client = Client()
        client.force_login(owner)
        name = django_settings.SESSION_COOKIE_NAME
        headers.append((b"cookie", f"{name}={client.cookies[name].value}".encode()))
    return headers


@asynccontextmanager
async def listening(path: str, headers: list[tuple[bytes, bytes]]):
    communicator = WebsocketCommunicator(application, path, headers=headers)
    try:
        connected, _ = await communicator.connect()
        assert connected
        yield communicator
    finally:
        await communicator.disconnect()


async def assert_refused(path: str, headers, code: int) -> None:
    async with listening(path, headers) as socket:
        error = await socket.receive_json_from()
        assert error["extra"] == {"code": code} and error["message"]
        assert await socket.receive_output() == {"type": "websocket.close", "code": code}


@pytest.fixture
def alice_headers(alice):
    return headers_for(alice)


@pytest.fixture
def carol_headers(carol):
    return headers_for(carol)


@pytest.fixture
def kettle(alice) -> Twin:
    return services.twin_create(owner=alice, name="Kettle", reading_kind="temperature", reading_unit="°C")


add_reading = database_sync_to_async(services.reading_add)


async def test_owner_hears_a_reading_on_the_private_page_after_commit(alice_headers, grinder):
    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as socket:
        await add_reading(twin=grinder, value=12)
        event = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
    assert event["kind"] == "reading"
    assert event["thing"] == grinder.slug
    assert event["latest"] is True
    reading = event["reading"]
    assert (reading["kind"], reading["value"], reading["unit"]) == ("grind", 12.0, "setting")
    assert reading["source"] == "manual" and reading["time"]


async def test_an_older_reading_is_pushed_but_does_not_claim_latest(alice_headers, grinder):
    from datetime import timedelta

    from django.utils import timezone

    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as socket:
        await add_reading(twin=grinder, value=12)
        await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        await add_reading(twin=grinder, value=9, time=timezone.now() - timedelta(days=1))
        event = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
    assert event["reading"]["value"] == 9.0
    assert event["latest"] is False


async def test_stranger_and_unknown_thing_get_the_same_close_code(carol_headers, grinder):
    await assert_refused(f"/ws/twins/{grinder.slug}/", carol_headers, CLOSE_NOT_FOUND)
    await assert_refused("/ws/twins/no-such-thing/", carol_headers, CLOSE_NOT_FOUND)


async def test_anonymous_visitor_is_refused_with_not_signed_in(grinder):
    await assert_refused(f"/ws/twins/{grinder.slug}/", headers_for(None), CLOSE_NOT_SIGNED_IN)
    await assert_refused("/ws/owner/", headers_for(None), CLOSE_NOT_SIGNED_IN)


async def test_stranger_hears_nothing_of_another_owners_readings(carol_headers, grinder):
    async with listening("/ws/owner/", carol_headers) as socket:
        await add_reading(twin=grinder, value=3)
        assert await socket.receive_nothing(timeout=0.5)


async def test_no_push_when_the_transaction_rolls_back(alice_headers, grinder):
    class Abort(Exception):
        pass

    @database_sync_to_async
    def add_then_roll_back():
        with pytest.raises(Abort), transaction.atomic():
            services.reading_add(twin=grinder, value=99)
            services.note_create(twin=grinder, title="Never happened")
            raise Abort

    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as page:
        async with listening("/ws/owner/", alice_headers) as cards:
            await add_then_roll_back()
            assert await page.receive_nothing(timeout=0.5)
            assert await cards.receive_nothing(timeout=0.1)


async def test_push_waits_for_the_outer_transaction_to_commit(alice_headers, grinder):
    @database_sync_to_async
    def add_inside_a_transaction(socket_is_quiet):
        with transaction.atomic():
            services.reading_add(twin=grinder, value=5)
            # Still inside the transaction: nothing may have been sent yet.
            assert socket_is_quiet()

    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as socket:

        def socket_is_quiet():
            return socket.output_queue.empty()

        await add_inside_a_transaction(socket_is_quiet)
        event = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
    assert event["reading"]["value"] == 5.0


async def test_cards_page_hears_readings_of_every_thing_of_the_owner(alice_headers, grinder, kettle):
    async with listening("/ws/owner/", alice_headers) as socket:
        await add_reading(twin=grinder, value=12)
        first = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        await add_reading(twin=kettle, value=96)
        second = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
    assert (first["thing"], first["reading"]["value"], first["latest"]) == (grinder.slug, 12.0, True)
    assert (second["thing"], second["reading"]["unit"], second["latest"]) == (kettle.slug, "°C", True)


async def test_private_page_hears_only_its_own_readings(alice_headers, grinder, kettle):
    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as socket:
        await add_reading(twin=kettle, value=96)
        assert await socket.receive_nothing(timeout=0.5)


async def test_journal_notes_arrive_on_both_pages(alice_headers, grinder):
    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as page:
        async with listening("/ws/owner/", alice_headers) as cards:
            note = await database_sync_to_async(services.note_create)(twin=grinder, title="Descaled", text="Citric")
            note_id = note.pk
            created = await page.receive_json_from(timeout=PUSH_TIMEOUT)
            assert (await cards.receive_json_from(timeout=PUSH_TIMEOUT))["kind"] == "note"
            await database_sync_to_async(services.note_update)(note=note, title="Descaled twice")
            edited = await page.receive_json_from(timeout=PUSH_TIMEOUT)
            await database_sync_to_async(services.note_delete)(note=note)
            deleted = await page.receive_json_from(timeout=PUSH_TIMEOUT)
    assert (created["kind"], created["action"], created["note"]["title"]) == ("note", "create", "Descaled")
    assert created["note"]["id"] == note_id and created["thing"] == grinder.slug
    assert (edited["action"], edited["note"]["title"]) == ("edit", "Descaled twice")
    assert (deleted["action"], deleted["note"]["id"]) == ("delete", note_id)


@pytest.mark.needs("tags")
async def test_finder_message_bumps_the_badge_on_every_open_page(alice_headers, grinder, grinder_tag, kettle):
    from tags import services as tag_services

    async with listening(f"/ws/twins/{kettle.slug}/", alice_headers) as other_page:
        async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as page:
            async with listening("/ws/owner/", alice_headers) as cards:
                await database_sync_to_async(tag_services.message_send)(
                    tag=grinder_tag, message="Found it by the station", name="Dan"
                )
                events = [await s.receive_json_from(timeout=PUSH_TIMEOUT) for s in (page, cards, other_page)]
                # Heard once per page, even though the grinder's page is in both the twin and the owner group.
                assert await page.receive_nothing(timeout=0.3)
    for event in events:
        assert (event["kind"], event["item"], event["unread"]) == ("message", "message", 1)
        assert event["thing"] == grinder.slug and event["title"] == "Message about Coffee grinder"


@pytest.mark.needs("tags")
async def test_a_strangers_scan_arrives_with_the_unread_count(alice_headers, grinder, grinder_tag):
    from tags import services as tag_services

    scan = database_sync_to_async(tag_services.scan_record)
    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as page:
        async with listening("/ws/owner/", alice_headers) as cards:
            await scan(tag=grinder_tag, by_owner=False, user_agent="Phone")
            first = await page.receive_json_from(timeout=PUSH_TIMEOUT)
            assert (await cards.receive_json_from(timeout=PUSH_TIMEOUT))["unread"] == 1
            await scan(tag=grinder_tag, by_owner=False, user_agent="Phone")
            second = await page.receive_json_from(timeout=PUSH_TIMEOUT)
            await cards.receive_json_from(timeout=PUSH_TIMEOUT)
            await scan(tag=grinder_tag, by_owner=True)
            own = await page.receive_json_from(timeout=PUSH_TIMEOUT)
    assert (first["kind"], first["count"], first["by_owner"], first["unread"]) == ("scan", 1, False, 1)
    # Repeated scans coalesce into one inbox item: the badge stays at 1.
    assert second["unread"] == 1
    assert (own["by_owner"], own["unread"]) == (True, 1)


@pytest.mark.needs("tags")
async def test_buffered_scans_arrive_when_the_buffer_is_flushed(settings, alice_headers, grinder, grinder_tag):

    from core.redis import redis_client
    from tags.scan_buffer import BUFFER_KEY, FLUSH_MARKER, flush_scan_buffer, record_stranger_scan

    settings.REDIS_URL = redis_url(12)

    @database_sync_to_async
    def flush_two_buffered_scans():
        client = redis_client()
        client.delete(BUFFER_KEY)
        # As if a flush were already enqueued: both scans wait in the buffer for one flush.
        client.set(FLUSH_MARKER, 1)
        for _ in range(2):
            record_stranger_scan(
                tag_id=grinder_tag.pk, twin_id=grinder.pk, owner_id=grinder.owner_id, name=grinder.name, user_agent="x"
            )
        flush_scan_buffer.call()

    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as page:
        await flush_two_buffered_scans()
        event = await page.receive_json_from(timeout=PUSH_TIMEOUT)
    assert (event["kind"], event["count"], event["unread"]) == ("scan", 2, 1)


async def test_open_page_is_closed_when_the_thing_changes_hands(alice_headers, bob, grinder):
    @database_sync_to_async
    def hand_over():
        # What a completed transfer does (twins/transfer.py): the thing is the buyer's and the buyer is told.
        Twin.objects.filter(pk=grinder.pk).update(owner=bob)
        notify(owner=bob, kind=Notification.Kind.SYSTEM, title="Grinder is yours", twin=grinder)

    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as socket:
        await hand_over()
        assert await socket.receive_output(timeout=PUSH_TIMEOUT) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


async def test_the_new_owners_readings_never_reach_the_old_owners_open_page(alice_headers, bob, grinder):
    @database_sync_to_async
    def hand_over_quietly_and_add_reading():
        Twin.objects.filter(pk=grinder.pk).update(owner=bob)
        services.reading_add(twin=Twin.objects.get(pk=grinder.pk), value=1)

    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as page:
        async with listening("/ws/owner/", alice_headers) as cards:
            await hand_over_quietly_and_add_reading()
            assert await page.receive_nothing(timeout=0.5)
            assert await cards.receive_nothing(timeout=0.1)


async def test_pushes_travel_through_the_redis_channel_layer(settings, alice_headers, grinder):
    redis_layer(settings)
    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"
    try:
        async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as page:
            async with listening("/ws/owner/", alice_headers) as cards:
                await add_reading(twin=grinder, value=7.5)
                assert (await page.receive_json_from(timeout=PUSH_TIMEOUT))["reading"]["value"] == 7.5
                assert (await cards.receive_json_from(timeout=PUSH_TIMEOUT))["thing"] == grinder.slug
    finally:
        await layer.flush()


def redis_layer(settings) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url(12)], "prefix": "thingstead-test-live"},
        }
    }


async def test_readings_committed_together_arrive_in_order_through_redis(settings, alice_headers, grinder, kettle):
    redis_layer(settings)
    layer = get_channel_layer()

    @database_sync_to_async
    def add_many():
        with transaction.atomic():
            for n in range(12):
                services.reading_add(twin=grinder if n % 3 else kettle, value=n)

    try:
        async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as page:
            async with listening("/ws/owner/", alice_headers) as cards:
                await add_many()
                heard = [(await cards.receive_json_from(timeout=PUSH_TIMEOUT))["reading"]["value"] for _ in range(12)]
                assert heard == list(range(12))
                own = [(await page.receive_json_from(timeout=PUSH_TIMEOUT))["reading"]["value"] for _ in range(8)]
                assert own == [n for n in range(12) if n % 3]
                assert await page.receive_nothing(timeout=0.3)
    finally:
        await layer.flush()


async def test_pushes_queued_together_become_one_message_per_group():
    from core.live import MAX_EVENTS_PER_MESSAGE, coalesce

    one = {"type": "live.event", "event": {"n": 0}}
    sends = [("owner-1", {"type": "live.event", "event": {"n": n}}) for n in range(MAX_EVENTS_PER_MESSAGE + 3)]
    sends.insert(1, ("twin-7", one))
    out = coalesce(sends)
    assert [group for group, _ in out] == ["owner-1", "owner-1", "twin-7"]
    assert out[2] == ("twin-7", one)  # alone in its group: sent as it is
    assert out[0][1]["type"] == "live.events" and len(out[0][1]["messages"]) == MAX_EVENTS_PER_MESSAGE
    unpacked = [m["event"]["n"] for _, message in out[:2] for m in message["messages"]]
    assert unpacked == list(range(MAX_EVENTS_PER_MESSAGE + 3))


async def test_a_coalesced_message_reaches_the_page_event_by_event(alice_headers, grinder):
    from core.live import twin_group

    def envelope(value: int, owner: int) -> dict:
        event = {"kind": "reading", "thing": grinder.slug, "reading": {"value": value}, "latest": True}
        return {"type": "live.event", "event": event, "owner": owner, "twin": grinder.pk, "group": "twin"}

    layer = get_channel_layer()
    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as page:
        messages = [envelope(1, grinder.owner_id), envelope(2, grinder.owner_id)]
        await layer.group_send(twin_group(grinder.pk), {"type": "live.events", "messages": messages})
        assert [(await page.receive_json_from(timeout=PUSH_TIMEOUT))["reading"]["value"] for _ in range(2)] == [1, 2]
        # The thing changed hands between two coalesced events: the page closes and hears nothing after.
        stranger = grinder.owner_id + 1000
        messages = [envelope(3, grinder.owner_id), envelope(4, stranger), envelope(5, grinder.owner_id)]
        await layer.group_send(twin_group(grinder.pk), {"type": "live.events", "messages": messages})
        assert (await page.receive_json_from(timeout=PUSH_TIMEOUT))["reading"]["value"] == 3
        assert await page.receive_output(timeout=PUSH_TIMEOUT) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
        assert await page.receive_nothing(timeout=0.3)


async def test_with_the_channel_layer_down_the_socket_says_so_instead_of_failing(settings, alice_headers, grinder):
    """Redis unreachable: the handshake used to fail with a 500; now the page's socket is told live updates are
    unavailable (an error frame and close code 4503), and the page itself keeps working."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    channel_layers.backends.clear()
    try:
        await assert_refused(f"/ws/twins/{grinder.slug}/", alice_headers, CLOSE_UNAVAILABLE)
    finally:
        channel_layers.backends.clear()
