import csv
import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from tags.models import Scan, Tag
from tags.services import TagUnavailable, tag_batch_create, tag_claim
from tests.conftest import client_for
from twins.services import twin_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def blank_tag(db) -> Tag:
    return tag_batch_create(count=1, batch="fair-2026")[0]


def test_make_tag_batch_creates_n_unassigned_tags_and_prints_urls_and_codes(settings, tmp_path):
    settings.SITE_URL = "https://things.example.org"
    out, err = io.StringIO(), io.StringIO()
    csv_path = tmp_path / "batch.csv"
    call_command(
        "make_tag_batch", "--count", "5", "--batch", "fair-2026", "--csv", str(csv_path), stdout=out, stderr=err
    )
    tags = Tag.objects.filter(batch="fair-2026")
    assert tags.count() == 5
    assert all(tag.status == Tag.Status.UNASSIGNED and tag.twin is None for tag in tags)
    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    for tag in tags:
        assert f"https://things.example.org/t/{tag.token}\t{tag.display_code}" in lines
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 5 and {row["code"] for row in rows} == {tag.display_code for tag in tags}


@pytest.mark.parametrize("args", [["--count", "0", "--batch", "x"], ["--count", "3", "--batch", "x" * 41]])
def test_make_tag_batch_refuses_bad_input(args):
    with pytest.raises(CommandError):
        call_command("make_tag_batch", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not Tag.objects.exists()


def test_signed_in_scan_of_an_unassigned_tag_offers_the_viewers_active_things(alice, grinder, blank_tag):
    twin_create(owner=alice, name="Old bike")
    from twins.services import twin_set_archived

    twin_set_archived(twin=twin_create(owner=alice, name="Sold canoe"), archived=True)
    page = client_for(alice).get(blank_tag.get_absolute_url()).content.decode()
    assert "attach" in page.lower()
    assert reverse("tag-claim", args=[blank_tag.token]) in page
    assert "Coffee grinder" in page and "Old bike" in page
    assert "Sold canoe" not in page


def test_claiming_attaches_the_tag_and_scans_then_open_the_thing(alice, grinder, blank_tag):
    client = client_for(alice)
    response = client.post(reverse("tag-claim", args=[blank_tag.token]), {"thing": grinder.slug})
    assert response.status_code == 302 and response.url.startswith(reverse("thing", args=[grinder.slug]))
    blank_tag.refresh_from_db()
    assert blank_tag.status == Tag.Status.ACTIVE and blank_tag.twin == grinder
    assert 'inputmode="decimal"' in client.get(blank_tag.get_absolute_url()).content.decode()


def test_second_claim_fails_clearly(alice, carol, grinder, blank_tag):
    client_for(alice).post(reverse("tag-claim", args=[blank_tag.token]), {"thing": grinder.slug})
    canoe = twin_create(owner=carol, name="Canoe")
    response = client_for(carol).post(reverse("tag-claim", args=[blank_tag.token]), {"thing": canoe.slug})
    assert response.status_code == 409
    assert "already been attached" in response.content.decode()
    assert Tag.objects.get(pk=blank_tag.pk).twin == grinder


def test_claim_service_is_a_conditional_update_so_a_stale_claim_loses(alice, carol, grinder, blank_tag):
    stale = Tag.objects.get(pk=blank_tag.pk)
    tag_claim(tag=blank_tag, twin=grinder, owner=alice)
    canoe = twin_create(owner=carol, name="Canoe")
    with pytest.raises(TagUnavailable):
        tag_claim(tag=stale, twin=canoe, owner=carol)
    assert Tag.objects.get(pk=blank_tag.pk).twin == grinder


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_claims_have_exactly_one_winner(alice, carol, grinder):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs a server database")
    tag = tag_batch_create(count=1, batch="race")[0]
    canoe = twin_create(owner=carol, name="Canoe")
    barrier, results = threading.Barrier(2), []

    def claim(twin, owner):
        barrier.wait()
        try:
            tag_claim(tag=Tag.objects.get(pk=tag.pk), twin=twin, owner=owner)
            results.append("won")
        except TagUnavailable:
            results.append("lost")
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=args) for args in ((grinder, alice), (canoe, carol))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["lost", "won"]
    assert Tag.objects.get(pk=tag.pk).twin in (grinder, canoe)


def test_cannot_claim_onto_someone_elses_thing(carol, grinder, blank_tag):
    twin_create(owner=carol, name="Canoe")
    response = client_for(carol).post(reverse("tag-claim", args=[blank_tag.token]), {"thing": grinder.slug})
    assert response.status_code == 400
    assert Tag.objects.get(pk=blank_tag.pk).status == Tag.Status.UNASSIGNED


def test_anonymous_scan_of_an_unassigned_tag_says_sign_in_to_attach(anon_client, blank_tag):
    response = anon_client.get(blank_tag.get_absolute_url())
    assert response.status_code == 200
    page = response.content.decode()
    assert "isn't attached to anything yet" in page
    assert "Sign in to attach it" in page and reverse("login") in page
    assert Scan.objects.get().by_owner is False and Scan.objects.get().twin is None


def test_anonymous_claim_is_sent_to_log_in(anon_client, blank_tag):
    response = anon_client.post(reverse("tag-claim", args=[blank_tag.token]), {"thing": "x"})
    assert response.status_code == 302 and "/login/" in response.url
    assert Tag.objects.get(pk=blank_tag.pk).status == Tag.Status.UNASSIGNED


def test_unassigned_tag_has_no_public_page_parts(anon_client, blank_tag):
    assert anon_client.post(reverse("tag-message", args=[blank_tag.token]), {"message": "hi"}).status_code == 404
    assert anon_client.get(reverse("tag-public-photo", args=[blank_tag.token])).status_code == 404
