"""The scan buffer's flush (tags.scan_buffer) writes no scans of a thing on its way to another host or moved there
(twins.leaving, issue 18): they would stay behind on the old host. The other things' scans of the same batch are
written as ever, and the log says how many were left out, with nothing about the finders."""

from __future__ import annotations

import logging

import pytest

from core.redis import redis_client
from tags import scan_buffer
from tags.models import Scan, Tag
from twins import leaving
from twins import services as twin_services
from twins.models import HistoryEntry, Twin

pytestmark = pytest.mark.django_db

NEW_HOST = "https://things.example.net"
FINDER_AGENT = "Mobile Safari finder-7c1e"


@pytest.fixture
def kettle_tag(alice) -> Tag:
    return Tag.objects.create(twin=twin_services.twin_create(owner=alice, name="Kettle"))


def buffered(tag: Tag, times: int) -> None:
    """What a finder's cached scan pushes (tags.scan_buffer.scan_hit), `times` times."""
    item = scan_buffer.item_prefix(tag_id=tag.pk, twin_id=tag.twin_id) + scan_buffer.item_tail(FINDER_AGENT)
    redis_client().rpush(scan_buffer.BUFFER_KEY, *([item] * times))


def flush(capture) -> int:
    with capture(execute=True):
        return scan_buffer.flush_scan_buffer.call()


@pytest.mark.parametrize("scan_redis", ["immediate"], indirect=True)
@pytest.mark.parametrize("gone", ["leaving", "moved"])
def test_a_flush_writes_no_scans_of_a_leaving_or_moved_thing_and_the_others_as_ever(
    scan_redis, grinder_tag, kettle_tag, caplog, gone, django_capture_on_commit_callbacks
):
    changes = {"leaving_to": NEW_HOST} if gone == "leaving" else {"leaving_to": NEW_HOST, "moved_to": NEW_HOST}
    Twin.objects.filter(pk=grinder_tag.twin_id).update(**changes)
    buffered(grinder_tag, 3)
    buffered(kettle_tag, 2)
    buffered(grinder_tag, 1)
    caplog.set_level(logging.INFO, logger="tags.scan_buffer")

    assert flush(django_capture_on_commit_callbacks) == 2

    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 0
    assert not Scan.objects.filter(twin_id=grinder_tag.twin_id).exists()
    assert not HistoryEntry.objects.filter(twin_id=grinder_tag.twin_id, kind=HistoryEntry.Kind.SCAN).exists()
    assert Scan.objects.filter(twin_id=kettle_tag.twin_id).count() == 2
    assert HistoryEntry.objects.filter(twin_id=kettle_tag.twin_id, kind=HistoryEntry.Kind.SCAN).count() == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "tags.scan_buffer"]
    assert any("4 scans" in message for message in logged), logged
    assert not any(FINDER_AGENT in message or str(grinder_tag.pk) in message for message in logged)


@pytest.mark.parametrize("scan_redis", ["immediate"], indirect=True)
def test_after_the_move_is_called_off_the_flush_writes_the_things_scans_again(
    scan_redis, grinder_tag, django_capture_on_commit_callbacks
):
    Twin.objects.filter(pk=grinder_tag.twin_id).update(leaving_to=NEW_HOST)
    buffered(grinder_tag, 2)
    assert flush(django_capture_on_commit_callbacks) == 0
    leaving.thaw(grinder_tag.twin_id)
    buffered(grinder_tag, 2)
    assert flush(django_capture_on_commit_callbacks) == 2
    assert Scan.objects.filter(twin_id=grinder_tag.twin_id).count() == 2
    (entry,) = HistoryEntry.objects.filter(twin_id=grinder_tag.twin_id, kind=HistoryEntry.Kind.SCAN)
    assert len(entry.entry["content"]["scans"]) == 2
