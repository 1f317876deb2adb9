"""A move's confirmation (twins.leaving.freeze), its calling off (thaw) and its completion (twins.moving.release) drop
the finder's kept page (tags.public_cache, through Twin's post_save receivers: twins does not import tags), so the
next finder's scan goes through the full path and shows what the thing is now at once: not recorded while it is
leaving, redirected to its new host once it has moved. Before, the kept page was served for up to 60 s, and each
scan of it recorded here (without Redis) as if nothing had happened.

Without Redis (the test settings): the kept page is in Django's cache and a finder's scan of it is written at once.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.twins.test_moving import B_URL, entries_for, on_a  # noqa: F401 - fixture
from twins import leaving, moving
from twins import services as twin_services
from twins.history import lock_twin
from twins.models import Twin

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags")]

NEW_HOST = "https://things.example.net"


def kept(tag) -> bool:
    from tags import public_cache

    return public_cache.cached_page(tag.token) is not None


def scans(tag) -> int:
    from tags.models import Scan

    return Scan.objects.filter(tag=tag).count()


def freeze(twin: Twin, capture) -> None:
    """What moves.services.move_confirm does to the twin, in a transaction that commits."""
    with capture(execute=True), transaction.atomic():
        leaving.freeze(lock_twin(twin), destination_url=NEW_HOST)


def thaw(twin: Twin, capture) -> None:
    with capture(execute=True), transaction.atomic():
        leaving.thaw(twin.pk)


def test_a_finders_scan_right_after_the_confirmation_sees_the_thing_leaving(
    grinder, grinder_tag, anon_client, django_capture_on_commit_callbacks
):
    url = grinder_tag.get_absolute_url()
    assert anon_client.get(url).status_code == 200
    assert kept(grinder_tag) and scans(grinder_tag) == 1

    freeze(grinder, django_capture_on_commit_callbacks)

    assert not kept(grinder_tag)
    assert anon_client.get(url).status_code == 200
    assert scans(grinder_tag) == 1  # leaving: shown, not recorded (it would stay behind on this host)


def test_a_page_kept_by_a_finder_while_the_confirmation_commits_is_dropped_once_it_has(
    grinder, grinder_tag, django_capture_on_commit_callbacks
):
    from tags import public_cache, selectors

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        leaving.freeze(lock_twin(grinder), destination_url=NEW_HOST)
        # A finder's request on another connection, before the commit, still sees the thing staying and keeps
        # that page.
        public_cache.store_page(grinder_tag, selectors.tag_public_page(tag=grinder_tag))
    assert not kept(grinder_tag)


def test_a_finders_scan_right_after_the_move_is_called_off_is_recorded_again(
    grinder, grinder_tag, anon_client, django_capture_on_commit_callbacks
):
    url = grinder_tag.get_absolute_url()
    freeze(grinder, django_capture_on_commit_callbacks)
    assert anon_client.get(url).status_code == 200
    assert kept(grinder_tag) and scans(grinder_tag) == 0  # the page kept while it was leaving

    thaw(grinder, django_capture_on_commit_callbacks)

    assert not kept(grinder_tag)
    assert anon_client.get(url).status_code == 200
    assert scans(grinder_tag) == 1


def test_a_thaw_of_a_moved_thing_changes_nothing_and_keeps_it_moved(
    grinder, grinder_tag, django_capture_on_commit_callbacks
):
    Twin.objects.filter(pk=grinder.pk).update(moved_to=NEW_HOST, leaving_to=NEW_HOST)
    thaw(grinder, django_capture_on_commit_callbacks)
    assert Twin.objects.filter(pk=grinder.pk, moved_to=NEW_HOST, leaving_to=NEW_HOST).exists()


def test_a_finders_scan_right_after_the_move_completes_goes_to_the_new_host(
    on_a,  # noqa: F811
    alice,
    carol,
    anon_client,
    django_capture_on_commit_callbacks,
):
    from tags.models import Tag

    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    tag = Tag.objects.create(twin=kettle)
    entries = entries_for(kettle, alice, carol)
    freeze(kettle, django_capture_on_commit_callbacks)
    assert anon_client.get(tag.get_absolute_url()).status_code == 200 and kept(tag)

    with django_capture_on_commit_callbacks(execute=True):
        moving.release(Twin.objects.get(pk=kettle.pk), entries=entries, destination_url=B_URL)

    assert not kept(tag)
    response = anon_client.get(tag.get_absolute_url())
    assert response.status_code == 308 and response["Location"].startswith(B_URL)
