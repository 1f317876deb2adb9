"""The finder's page is served from the cache and scans are buffered, without ever showing stale choices."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from owners.models import Notification
from tags import scan_buffer
from tags.history import scans_of
from tags.models import Scan
from tags.services import tag_retire
from tests.conftest import client_for
from twins import services
from twins.models import HistoryEntry

pytestmark = pytest.mark.django_db


def test_repeat_anonymous_scan_reads_nothing_from_the_database(anon_client, grinder_tag):
    anon_client.get(grinder_tag.get_absolute_url())
    with CaptureQueriesContext(connection) as queries:
        response = anon_client.get(grinder_tag.get_absolute_url())
    assert response.status_code == 200
    assert not [
        q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT") and "tags_tag" in q["sql"]
    ]
    assert Scan.objects.filter(tag=grinder_tag).count() == 2


def test_cached_page_is_the_same_for_every_finder_and_its_message_form_works(anon_client, grinder_tag, alice):
    first = anon_client.get(grinder_tag.get_absolute_url()).content
    from django.test import Client

    finder = Client(enforce_csrf_checks=True)
    response = finder.get(grinder_tag.get_absolute_url())
    assert response.content == first and not response.cookies  # no per-visitor token, no cookie
    response = finder.post(
        reverse("tag-message", args=[grinder_tag.token]),
        {"message": "Found it"},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 200
    assert Notification.objects.filter(owner=alice, kind="message").count() == 1


def test_switching_a_field_off_takes_effect_on_the_next_scan(anon_client, alice, grinder, grinder_tag):
    owner = client_for(alice)
    owner.post(
        reverse("thing-public", args=[grinder.slug]),
        {"show_thing_name": "on", "contact_phone": "+49 30 5550", "show_phone": "on"},
    )
    assert "+49 30 5550" in anon_client.get(grinder_tag.get_absolute_url()).content.decode()
    owner.post(reverse("thing-public", args=[grinder.slug]), {"show_thing_name": "on", "contact_phone": "+49 30 5550"})
    assert "+49 30 5550" not in anon_client.get(grinder_tag.get_absolute_url()).content.decode()


def test_profile_card_change_takes_effect_on_the_next_scan(anon_client, alice, grinder_tag):
    anon_client.get(grinder_tag.get_absolute_url())
    client_for(alice).post(reverse("profile"), {"contact_name": "Alice Example", "show_name": "on"})
    assert "Alice Example" in anon_client.get(grinder_tag.get_absolute_url()).content.decode()


def test_retired_tag_stops_showing_the_thing_at_once(anon_client, grinder_tag):
    assert "Coffee grinder" in anon_client.get(grinder_tag.get_absolute_url()).content.decode()
    tag_retire(tag=grinder_tag)
    response = anon_client.get(grinder_tag.get_absolute_url())
    assert response.status_code == 410 and "Coffee grinder" not in response.content.decode()


def test_archived_thing_looks_unknown_at_once(anon_client, grinder, grinder_tag):
    anon_client.get(grinder_tag.get_absolute_url())
    services.twin_set_archived(twin=grinder, archived=True)
    assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 404


def test_with_redis_scans_are_buffered_then_flushed_into_scans_notifications_and_history(
    scan_redis, settings, anon_client, alice, grinder, grinder_tag, django_capture_on_commit_callbacks
):
    for _ in range(10):
        assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 200
    assert Scan.objects.count() == 0
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 10
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_buffer.flush_scan_buffer.call() == 10
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 0
    assert Scan.objects.filter(tag=grinder_tag, by_owner=False).count() == 10
    assert Notification.objects.get(owner=alice, kind="scan").count == 10
    (entry,) = HistoryEntry.objects.filter(twin=grinder, kind="scan")  # one entry for the flush, listing all 10
    assert len(scans_of(entry.entry)) == 10


def test_with_redis_buffered_scans_of_a_deleted_tag_are_dropped(scan_redis, anon_client, grinder_tag):
    anon_client.get(grinder_tag.get_absolute_url())
    grinder_tag.delete()
    assert scan_buffer.flush_scan_buffer.call() == 0
    assert Scan.objects.count() == 0


def test_with_redis_the_rate_limit_is_one_shared_counter(scan_redis, settings, anon_client, grinder_tag):
    settings.RATE_SCAN_PER_CLIENT = "3/60"
    statuses = [anon_client.get(grinder_tag.get_absolute_url()).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_while_redis_is_down_a_scan_shows_the_page_and_is_written_at_once(anon_client, alice, grinder_tag, redis_down):
    for _ in range(2):
        response = anon_client.get(grinder_tag.get_absolute_url())
        assert response.status_code == 200 and "Coffee grinder" in response.content.decode()
    assert Scan.objects.filter(tag=grinder_tag, by_owner=False).count() == 2
    assert Notification.objects.get(owner=alice, kind="scan").count == 2


def test_while_redis_is_down_the_owner_scan_works(alice, grinder_tag, redis_down):
    response = client_for(alice).get(grinder_tag.get_absolute_url())
    assert response.status_code == 200
    assert Scan.objects.filter(tag=grinder_tag, by_owner=True).count() == 1


def test_while_redis_is_down_a_typed_code_still_leads_to_the_tag(anon_client, grinder_tag, redis_down):
    response = anon_client.get(reverse("tag-enter"), {"code": grinder_tag.code})
    assert response.status_code == 302 and response.url == grinder_tag.get_absolute_url()


def test_while_redis_is_down_scans_are_still_limited_per_process(anon_client, grinder_tag, settings, redis_down):
    settings.RATE_SCAN_PER_CLIENT = "3/60"
    statuses = [anon_client.get(grinder_tag.get_absolute_url()).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_with_redis_a_refused_scan_gets_retry_after_and_is_not_buffered(scan_redis, settings, anon_client, grinder_tag):
    settings.RATE_SCAN_PER_CLIENT = "2/60"
    assert [anon_client.get(grinder_tag.get_absolute_url()).status_code for _ in range(2)] == [200, 200]
    refused = anon_client.get(grinder_tag.get_absolute_url())
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 61
    # The first scan rendered and kept the page (buffered by the slow path), the second went through the script.
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 2


def test_with_redis_a_cached_scan_is_one_round_trip(scan_redis, anon_client, grinder_tag):
    anon_client.get(grinder_tag.get_absolute_url())
    commands = []
    pool = scan_redis.connection_pool
    original = pool.get_connection

    def counting(*args, **kwargs):
        connection = original(*args, **kwargs)
        send = connection.send_packed_command
        if not getattr(send, "counted", False):

            def counted(command, *a, **k):
                commands.append(command)
                return send(command, *a, **k)

            counted.counted = True
            connection.send_packed_command = counted
        return connection

    pool.get_connection = counting
    try:
        assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 200
    finally:
        pool.get_connection = original
    assert len(commands) == 1
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 2
