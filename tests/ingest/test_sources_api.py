"""/api/sources/: everything the Sources pages do (list, create, change, rotate the secret, end the overlap, link and
unlink things, delete), through the same services; the secret is in one answer only; anyone else's source is a 404."""

from __future__ import annotations

import pytest

from ingest.models import Source, SourceThing
from tests.conftest import api_for
from twins import services as twin_services


@pytest.fixture
def alice_token_api(alice):
    return api_for(alice, token=True)


def _create(client, **body):
    return client.post("/api/sources/", {"name": "Garden gateway", **body}, format="json")


def test_created_source_answers_its_secret_once_and_the_secret_is_the_one_kept(alice, alice_token_api):
    response = _create(alice_token_api, rate_limit="60/60", mapping={"value": "/v"})
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    source = Source.objects.get(public_id=body["id"], owner=alice)
    assert body["secret"].startswith("whsec_")
    assert source.secrets() == [body["secret"]]
    assert (body["name"], body["rate_limit"], body["mapping"]) == ("Garden gateway", "60/60", {"value": "/v"})
    assert body["hook_url"].endswith(f"/hooks/{source.public_id}")
    assert body["mqtt_topic"] == f"thingstead/{source.public_id}/readings"

    listed = alice_token_api.get("/api/sources/").json()["results"]
    shown = alice_token_api.get(f"/api/sources/{source.public_id}/").json()
    assert [item["id"] for item in listed] == [source.public_id]
    assert "secret" not in listed[0] and "secret" not in shown
    assert body["secret"] not in alice_token_api.get("/api/sources/").content.decode()


def test_bad_mapping_and_rate_limit_are_400s_naming_the_field_and_store_nothing(alice, alice_token_api):
    bad_pointer = _create(alice_token_api, mapping={"value": "no-slash"})
    bad_limit = _create(alice_token_api, rate_limit="lots")
    unknown = _create(alice_token_api, mapping={"colour": "/c"})
    blank = _create(alice_token_api, name="   ")
    assert [r.status_code for r in (bad_pointer, bad_limit, unknown, blank)] == [400, 400, 400, 400]
    assert bad_pointer.json()["message"].startswith("mapping")
    assert bad_limit.json()["message"].startswith("rate_limit")
    assert unknown.json()["message"].startswith("mapping")
    assert blank.json()["message"].startswith("name")
    assert not Source.objects.exists()


def test_rotation_answers_a_new_secret_and_keeps_the_old_one_for_the_overlap(alice_token_api):
    first = _create(alice_token_api).json()
    rotated = alice_token_api.post(f"/api/sources/{first['id']}/rotate", {"overlap_hours": 2}, format="json")
    assert rotated.status_code == 200
    assert rotated["Cache-Control"] == "no-store"
    new = rotated.json()
    assert new["secret"] != first["secret"]
    assert new["previous_secret_valid_until"] is not None
    assert Source.objects.get(public_id=first["id"]).secrets() == [new["secret"], first["secret"]]

    ended = alice_token_api.post(f"/api/sources/{first['id']}/end-overlap")
    assert ended.status_code == 200 and ended.json()["previous_secret_valid_until"] is None
    assert Source.objects.get(public_id=first["id"]).secrets() == [new["secret"]]


def test_rotation_overlap_beyond_thirty_days_is_refused_and_the_secret_stays(alice_token_api):
    first = _create(alice_token_api).json()
    refused = alice_token_api.post(f"/api/sources/{first['id']}/rotate", {"overlap_hours": 721}, format="json")
    assert refused.status_code == 400
    assert Source.objects.get(public_id=first["id"]).secrets() == [first["secret"]]


def test_owner_changes_links_unlinks_and_deletes_a_source(alice, alice_token_api, grinder):
    source_id = _create(alice_token_api).json()["id"]
    changed = alice_token_api.patch(f"/api/sources/{source_id}/", {"name": "Roof"}, format="json")
    assert changed.status_code == 200 and changed.json()["name"] == "Roof"

    link = alice_token_api.post(
        f"/api/sources/{source_id}/things/", {"thing": grinder.slug, "external_id": "dev-7"}, format="json"
    )
    assert link.status_code == 201, link.content
    assert alice_token_api.get(f"/api/sources/{source_id}/").json()["things"] == [
        {"id": link.json()["id"], "thing": grinder.slug, "external_id": "dev-7"}
    ]
    again = alice_token_api.post(f"/api/sources/{source_id}/things/", {"thing": grinder.slug}, format="json")
    assert again.status_code == 400

    unlinked = alice_token_api.delete(f"/api/sources/{source_id}/things/{link.json()['id']}/")
    assert unlinked.status_code == 204 and not SourceThing.objects.exists()

    assert alice_token_api.delete(f"/api/sources/{source_id}/").status_code == 204
    assert alice_token_api.get(f"/api/sources/{source_id}/").status_code == 404


def test_linking_someone_elses_thing_is_a_400(alice_token_api, carol):
    carols = twin_services.twin_create(owner=carol, name="Carol's kettle")
    source_id = _create(alice_token_api).json()["id"]
    refused = alice_token_api.post(f"/api/sources/{source_id}/things/", {"thing": carols.slug}, format="json")
    assert refused.status_code == 400
    assert refused.json()["message"] == "thing: No such thing among yours."
    assert not SourceThing.objects.exists()


def test_stranger_gets_the_one_404_for_every_operation_on_alices_source(alice_token_api, carol):
    source_id = _create(alice_token_api).json()["id"]
    before = Source.objects.get(public_id=source_id).secrets()
    carol_api = api_for(carol, token=True)
    answers = [
        carol_api.get(f"/api/sources/{source_id}/"),
        carol_api.patch(f"/api/sources/{source_id}/", {"name": "Mine"}, format="json"),
        carol_api.post(f"/api/sources/{source_id}/rotate", {"overlap_hours": 0}, format="json"),
        carol_api.post(f"/api/sources/{source_id}/end-overlap"),
        carol_api.post(f"/api/sources/{source_id}/things/", {"thing": "x"}, format="json"),
        carol_api.delete(f"/api/sources/{source_id}/"),
    ]
    assert [(r.status_code, r.json()) for r in answers] == [(404, {"message": "Not found.", "extra": {}})] * 6
    assert carol_api.get("/api/sources/").json()["results"] == []
    source = Source.objects.get(public_id=source_id)
    assert (source.name, source.secrets()) == ("Garden gateway", before)


def _source_feeding(alice_token_api, grinder, **body) -> str:
    source_id = _create(alice_token_api, **body).json()["id"]
    linked = alice_token_api.post(
        f"/api/sources/{source_id}/things/", {"thing": grinder.slug, "external_id": "grinder-1"}, format="json"
    )
    assert linked.status_code == 201, linked.content
    return source_id


def test_preview_shows_what_a_sample_would_store_and_stores_nothing(grinder, alice_token_api):
    source_id = _source_feeding(alice_token_api, grinder, mapping={"value": "/v"})
    sample = {"readings": [{"thing": "grinder-1", "kind": "temperature", "v": 21.5, "unit": "C"}]}
    answer = alice_token_api.post(f"/api/sources/{source_id}/preview", {"sample": sample}, format="json")
    assert answer.status_code == 200, answer.content
    (reading,) = answer.json()["readings"]
    assert (reading["thing"], reading["kind"], reading["value"], reading["unit"]) == (
        grinder.slug,
        "temperature",
        21.5,
        "C",
    )
    assert reading["device_signed"] is False
    # Another mapping in the body is tried instead of the source's, and neither is saved.
    other = alice_token_api.post(
        f"/api/sources/{source_id}/preview",
        {
            "mapping": {"value": "/reading/value"},
            "sample": {"readings": [{"thing": "grinder-1", "reading": {"value": 3}}]},
        },
        format="json",
    )
    assert other.status_code == 200, other.content
    assert other.json()["readings"][0]["value"] == 3
    assert not grinder.readings.exists()
    assert alice_token_api.get(f"/api/sources/{source_id}/").json()["mapping"] == {"value": "/v"}


def test_preview_of_a_bad_sample_is_a_400_naming_the_field_as_the_page_does(grinder, alice_token_api):
    source_id = _source_feeding(alice_token_api, grinder)
    unknown = {"readings": [{"thing": "nobody", "kind": "t", "value": 1}]}
    answer = alice_token_api.post(f"/api/sources/{source_id}/preview", {"sample": unknown}, format="json")
    assert answer.status_code == 400
    assert answer.json()["extra"]["pointer"] == "/readings/0/thing"
    assert answer.json()["message"]
    missing = alice_token_api.post(f"/api/sources/{source_id}/preview", {}, format="json")
    assert missing.status_code == 400 and missing.json()["message"].startswith("sample")


def test_preview_of_someone_elses_source_is_a_404(grinder, alice_token_api, carol):
    source_id = _source_feeding(alice_token_api, grinder)
    answer = api_for(carol, token=True).post(f"/api/sources/{source_id}/preview", {"sample": {}}, format="json")
    assert answer.status_code == 404
