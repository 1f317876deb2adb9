"""The selection bar on the cards page, the confirmation step, the job's result page, and bad input as 4xx."""

from __future__ import annotations

import io
import zipfile

import pytest

from bulk.models import BulkJob
from ssi.bundle import verify_bundle
from tags import services as tag_services
from tests.bulk.conftest import bar_count, make_things
from twins import services as twin_services
from twins.models import Twin


def post_act(client, **data):
    return client.post("/bulk/act", data)


def test_the_cards_page_shows_the_bar_with_the_matching_count_and_a_checkbox_per_own_thing(alice_client, drills):
    twin_services.twin_set_lost(twin=drills[0], lost=True)
    page = alice_client.get("/things/?lost=yes").content.decode()
    assert 'id="bulk-selection"' in page
    assert "Select all" in page and "matching" in page
    assert bar_count(alice_client, "/things/?lost=yes") == "1"
    assert 'name="query" value="lost=yes"' in page
    assert page.count('form="bulk-selection"') == 1
    assert '<option value="archive">Archive</option>' in page


def test_no_bar_for_an_owner_with_no_things(carol_client):
    assert 'id="bulk-selection"' not in carol_client.get("/things/").content.decode()


def test_the_confirmation_asks_with_the_count_and_the_job_does_it(alice_client, alice, drills):
    slugs = [d.slug for d in drills[:2]]
    page = post_act(alice_client, action="archive", thing=slugs, query="")
    assert page.status_code == 200
    assert "Archive 2 things?" in page.content.decode()
    assert not Twin.objects.filter(archived_at__isnull=False).exists()  # asking changes nothing
    done = post_act(alice_client, action="archive", thing=slugs, query="", confirm="1")
    job = BulkJob.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/bulk/jobs/{job.pk}/"
    assert job.done_count == 2
    result = alice_client.get(done["Location"]).content.decode()
    assert "Drill 000" in result and "Drill 001" in result and "Done (2)" in result


def test_select_all_matching_acts_on_every_thing_the_filter_matches_not_the_ticked_ones(alice_client, drills):
    twin_services.twin_set_lost(twin=drills[2], lost=True)
    twin_services.twin_set_lost(twin=drills[3], lost=True)
    page = post_act(alice_client, action="archive", all="1", query="lost=yes", thing=[drills[0].slug])
    assert "Archive 2 things?" in page.content.decode()
    post_act(alice_client, action="archive", all="1", query="lost=yes", thing=[drills[0].slug], confirm="1")
    assert set(Twin.objects.filter(archived_at__isnull=False)) == {drills[2], drills[3]}
    assert BulkJob.objects.get().total == 2


def test_an_action_with_nothing_to_ask_and_easy_to_undo_is_done_at_once(alice_client, drills):
    twin_services.twin_set_lost(twin=drills[0], lost=True)
    done = post_act(alice_client, action="mark-found", thing=[drills[0].slug, drills[1].slug])
    assert done.status_code == 302
    job = BulkJob.objects.get()
    assert (job.done_count, job.failed_count) == (1, 1)
    assert not Twin.objects.filter(lost=True).exists()


def test_the_parameters_are_asked_for_and_a_bad_one_is_a_400_with_words(alice_client, drills):
    page = post_act(alice_client, action="set-attribute", thing=[drills[0].slug]).content.decode()
    assert 'name="name"' in page
    assert "Set this attribute on 1 thing?" in page
    bad = post_act(alice_client, action="set-attribute", thing=[drills[0].slug], confirm="1", name="", value="x")
    assert bad.status_code == 400
    assert "This field is required." in bad.content.decode()
    assert not BulkJob.objects.exists()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"action": "explode", "thing": ["x"]}, "Choose an action from the list."),
        ({"action": "archive"}, "Nothing selected"),
        ({"action": "archive", "thing": ["not-a-thing"]}, "None of the selected things is yours any more."),
        ({"action": "archive", "all": "1", "query": "label=999999"}, ""),
    ],
)
def test_bad_selections_are_400s_with_words(alice_client, drills, data, words):
    response = post_act(alice_client, **data)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not BulkJob.objects.exists()


def test_another_owners_things_cannot_be_selected(carol_client, drills):
    response = post_act(carol_client, action="archive", thing=[d.slug for d in drills], confirm="1")
    assert response.status_code == 400
    assert not Twin.objects.filter(archived_at__isnull=False).exists()


def test_another_owners_job_is_a_404_and_cannot_be_cancelled(alice, carol_client, drills):
    job = BulkJob.objects.create(owner=alice, action="archive", label="Archive", twin_ids=[drills[0].pk], total=1)
    assert carol_client.get(f"/bulk/jobs/{job.pk}/").status_code == 404
    assert carol_client.post(f"/bulk/jobs/{job.pk}/cancel").status_code == 404
    job.refresh_from_db()
    assert job.status == "queued" and job.cancel_requested_at is None


def test_a_queued_job_is_cancelled_at_once_from_its_page(alice, alice_client, drills):
    job = BulkJob.objects.create(owner=alice, action="archive", label="Archive", twin_ids=[drills[0].pk], total=1)
    page = alice_client.get(f"/bulk/jobs/{job.pk}/").content.decode()
    assert 'data-testid="bulk-cancel"' in page and 'data-testid="bulk-progress"' in page
    alice_client.post(f"/bulk/jobs/{job.pk}/cancel")
    job.refresh_from_db()
    assert job.status == "cancelled"
    page = alice_client.get(f"/bulk/jobs/{job.pk}/").content.decode()
    assert "1 thing left untouched" in page


def test_print_labels_makes_one_sheet_of_every_selected_things_tags(alice, alice_client, drills):
    tag_services.tag_create(twin=drills[0])
    tag_services.tag_create(twin=drills[0])
    tag_services.tag_create(twin=drills[1])
    other = make_things(alice, 1, prefix="Saw")[0]
    tag_services.tag_create(twin=other)
    response = post_act(alice_client, action="print-labels", thing=[d.slug for d in drills[:3]], confirm="1")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('data-testid="label"') == 3
    assert page.count(f'data-thing="{drills[0].slug}"') == 2
    assert "Saw" not in page
    assert "Without an active tag (no label): Drill 002" in page
    assert "<svg" in page


def test_export_bundles_streams_a_zip_of_each_things_verifiable_bundle(alice_client, drills):
    response = post_act(alice_client, action="export-bundles", thing=[d.slug for d in drills[:2]], confirm="1")
    assert response.status_code == 200
    assert response.streaming and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = sorted(archive.namelist())
    assert names == sorted(f"drill-00{i}-{drills[i].slug}.json" for i in range(2))
    for i, name in enumerate(names):
        report = verify_bundle(archive.read(name))  # the offline verifier accepts each one
        assert report.did == drills[i].did


def test_the_bar_counts_up_to_a_cap_and_the_confirmation_counts_exactly(alice_client, alice, drills, monkeypatch):
    from bulk import section

    monkeypatch.setattr(section, "COUNT_CAP", 3)
    assert bar_count(alice_client, "/things/") == "3+"
    asked = post_act(alice_client, action="archive", all="1", query="").content.decode()
    assert "Archive 4 things?" in asked


def test_the_jobs_page_lists_the_owners_jobs_only(alice, carol, alice_client, carol_client, drills):
    BulkJob.objects.create(owner=alice, action="archive", label="Archive", twin_ids=[drills[0].pk], total=1)
    assert "Archive: 1 thing" in alice_client.get("/bulk/jobs/").content.decode()
    page = carol_client.get("/bulk/jobs/").content.decode()
    assert "Archive: 1 thing" not in page and "No bulk jobs yet" in page


def test_a_sold_things_new_name_does_not_show_on_the_sellers_job_page(alice, alice_client, bob, drills):
    from twins.transfer import offer_accept, offer_create

    post_act(alice_client, action="mark-found", thing=[drills[0].slug, drills[1].slug])
    job = BulkJob.objects.get()
    offer = offer_create(twin=drills[0], seller=alice, redact_kinds=[])
    offer_accept(offer=offer, buyer=bob)
    twin_services.twin_update(twin=Twin.objects.get(pk=drills[0].pk), name="Secret insulin pump")

    page = alice_client.get(f"/bulk/jobs/{job.pk}/").content.decode()
    assert "Secret insulin pump" not in page and drills[0].slug not in page
    assert "A thing you no longer own" in page
    assert "Drill 001" in page and drills[1].slug in page  # still hers: named and linked
    failures = {f["name"]: f["thing"] for f in alice_client.get(f"/api/bulk/jobs/{job.pk}").json()["failures"]}
    assert failures == {None: None, "Drill 001": drills[1].slug}
