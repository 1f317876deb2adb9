"""Every scan written to the scan log sends twins.events.ScanRecorded, once it commits: one scan or a buffered batch."""

from __future__ import annotations

import pytest
from django.db import transaction

from tags import scan_buffer
from tags.models import Scan
from tests.conftest import client_for
from twins import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """The ScanRecorded events sent, as an after-commit subscriber hears them."""
    received: list[events.ScanRecorded] = []
    events.subscribe(events.ScanRecorded, received.append)
    yield received
    events.unsubscribe(events.ScanRecorded, received.append)


def test_a_strangers_scan_is_heard_once_it_commits(anon_client, grinder_tag, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 200
    scan = Scan.objects.get()
    grinder = grinder_tag.twin
    assert heard == [
        events.ScanRecorded(twin_id=grinder.pk, owner_id=grinder.owner_id, scan_ids=(scan.pk,), count=1, by_owner=False)
    ]


def test_the_owners_scan_is_heard_as_by_the_owner(alice, grinder_tag, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(alice).get(grinder_tag.get_absolute_url())
    assert [(event.by_owner, event.owner_id, event.scan_ids) for event in heard] == [
        (True, alice.pk, (Scan.objects.get().pk,))
    ]


def test_a_scan_that_rolls_back_is_never_heard(grinder_tag, heard, django_capture_on_commit_callbacks):
    from tags.services import scan_record

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            scan_record(tag=grinder_tag, by_owner=False)
            raise RuntimeError("rolled back")
    assert heard == [] and not Scan.objects.exists()


def test_a_retired_tags_scan_names_no_twin_and_is_not_heard(
    anon_client, grinder_tag, heard, django_capture_on_commit_callbacks
):
    from tags.services import tag_retire

    tag_retire(tag=grinder_tag)
    with django_capture_on_commit_callbacks(execute=True):
        assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 410
    assert Scan.objects.get().twin_id is None
    assert heard == []


def test_a_flushed_batch_of_buffered_scans_is_heard_once_per_thing_with_its_count(
    scan_redis, anon_client, grinder_tag, heard, django_capture_on_commit_callbacks
):
    for _ in range(3):
        anon_client.get(grinder_tag.get_absolute_url())
    assert heard == []  # buffered in Redis: nothing is written yet
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_buffer.flush_scan_buffer.call() == 3
    grinder = grinder_tag.twin
    scan_ids = tuple(Scan.objects.order_by("id").values_list("id", flat=True))
    assert heard == [
        events.ScanRecorded(twin_id=grinder.pk, owner_id=grinder.owner_id, scan_ids=scan_ids, count=3, by_owner=False)
    ]
