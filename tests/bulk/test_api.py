"""POST /api/bulk/jobs, GET /api/bulk/jobs/<id>, POST /api/bulk/jobs/<id>/cancel: the owner's jobs only, bad
input a 400 with words, never a 500."""

from __future__ import annotations

import pytest

from bulk.models import BulkJob
from twins import services as twin_services
from twins.models import Twin


def test_a_small_job_runs_at_once_and_lists_its_failures(alice_api, drills):
    twin_services.twin_set_archived(twin=drills[1], archived=True)
    response = alice_api.post(
        "/api/bulk/jobs",
        {"action": "archive", "selection": {"all": True, "filters": {"archived": "1"}}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["total"], body["done_count"], body["failed_count"]) == ("done", 1, 0, 1)
    assert body["failures"] == [{"thing": drills[1].slug, "name": "Drill 001", "reason": "It is archived already."}]
    assert alice_api.get(f"/api/bulk/jobs/{body['id']}").json()["failures"] == body["failures"]


def test_set_attribute_over_ticked_things(alice_api, drills):
    response = alice_api.post(
        "/api/bulk/jobs",
        {
            "action": "set-attribute",
            "params": {"name": "colour", "value": "red"},
            "selection": {"things": [drills[0].slug, drills[2].slug]},
        },
        format="json",
    )
    assert response.status_code == 201
    assert set(Twin.objects.filter(attributes__colour="red").values_list("name", flat=True)) == {
        "Drill 000",
        "Drill 002",
    }


def test_a_big_job_is_queued_on_commit_then_runs(settings, alice_api, drills, django_capture_on_commit_callbacks):
    settings.BULK_INLINE_MAX = 2
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = alice_api.post("/api/bulk/jobs", {"action": "mark-lost", "selection": {"all": True}}, format="json")
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    # The test settings run tasks inline (ImmediateBackend): the task runs when the request's commit enqueues it.
    for callback in queued:
        callback()
    job = alice_api.get(f"/api/bulk/jobs/{response.json()['id']}").json()
    assert (job["status"], job["done_count"]) == ("done", 4)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"action": "explode", "selection": {"all": True}}, "action: No such action. Choose one of:"),
        ({"action": "print-labels", "selection": {"all": True}}, "answers at once"),
        ({"action": "archive", "selection": {}}, 'Give "things" (slugs)'),
        ({"action": "archive", "selection": {"all": True, "things": ["x"]}}, "not both"),
        ({"action": "archive", "selection": {"things": ["nobodys"]}}, "Nothing selected"),
        ({"action": "archive", "selection": "all"}, "selection:"),
        ({"action": "set-attribute", "params": {"name": "x" * 101}, "selection": {"all": True}}, "name:"),
        ({"action": "set-attribute", "params": {"value": "1"}, "selection": {"all": True}}, "name:"),
        ({"action": "set-attribute", "params": ["name"], "selection": {"all": True}}, "params:"),
        ({"action": "grant", "params": {"party": "endpoint:1", "kinds": ["x"]}, "selection": {"all": True}}, "party"),
        ({"action": "mark-lost", "params": {"reward": "x" * 201}, "selection": {"all": True}}, "reward:"),
        ({"action": "archive", "selection": {"all": True, "filters": {"label": "999999"}}}, ""),
        ({"action": ["archive"], "selection": {"all": True}}, "action:"),
    ],
)
def test_bad_input_is_a_400_with_words_and_writes_nothing(alice_api, drills, body, words):
    response = alice_api.post("/api/bulk/jobs", body, format="json")
    assert response.status_code == 400, response.content
    assert words in response.json()["message"]
    assert not BulkJob.objects.exists()
    assert not Twin.objects.filter(archived_at__isnull=False).exists()


def test_another_owners_job_is_a_404_to_read_and_to_cancel(alice, carol_api, drills):
    job = BulkJob.objects.create(owner=alice, action="archive", label="Archive", twin_ids=[drills[0].pk], total=1)
    assert carol_api.get(f"/api/bulk/jobs/{job.pk}").status_code == 404
    assert carol_api.post(f"/api/bulk/jobs/{job.pk}/cancel").status_code == 404
    assert BulkJob.objects.get().status == "queued"


def test_cancelling_a_finished_job_is_a_409(alice_api, drills):
    job = alice_api.post(
        "/api/bulk/jobs", {"action": "mark-lost", "selection": {"things": [drills[0].slug]}}, format="json"
    ).json()
    response = alice_api.post(f"/api/bulk/jobs/{job['id']}/cancel")
    assert response.status_code == 409
    assert "already finished (done)" in response.json()["message"]


def test_signed_out_is_refused(anon_api, alice, drills):
    job = BulkJob.objects.create(owner=alice, action="archive", label="Archive", twin_ids=[drills[0].pk], total=1)
    assert anon_api.get(f"/api/bulk/jobs/{job.pk}").status_code in (401, 403)
    assert anon_api.post("/api/bulk/jobs", {}, format="json").status_code in (401, 403)
