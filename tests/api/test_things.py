"""/api/things/: list, create, show, change, archive, photo."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image
from rest_framework.authtoken.models import Token

from tests.conftest import api_for
from twins import services as twin_services
from twins.models import Twin

NOT_FOUND = {"message": "Not found.", "extra": {}}


def png_bytes(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 20)).save(out, format="PNG")
    return out.getvalue()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


class TestList:
    def test_owner_lists_only_her_active_things_with_pagination(self, alice_api, alice, carol, grinder):
        twin_services.twin_create(owner=carol, name="Carol's bike")
        twin_services.twin_create(owner=alice, name="Old kettle")
        response = alice_api.get("/api/things/", {"limit": 1})
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 2
        assert len(body["results"]) == 1
        assert body["next"] is not None
        names = {item["name"] for item in alice_api.get("/api/things/").json()["results"]}
        assert names == {"Coffee grinder", "Old kettle"}

    def test_search_lost_and_archived_filters_apply(self, alice_api, alice, grinder):
        kettle = twin_services.twin_create(owner=alice, name="Kettle")
        twin_services.twin_set_lost(twin=kettle, lost=True)
        bike = twin_services.twin_create(owner=alice, name="Bike")
        twin_services.twin_set_archived(twin=bike, archived=True)

        def names(params):
            return [item["name"] for item in alice_api.get("/api/things/", params).json()["results"]]

        assert names({"q": "grind"}) == ["Coffee grinder"]
        assert names({"lost": "true"}) == ["Kettle"]
        assert names({"lost": "false"}) == ["Coffee grinder"]
        assert names({"archived": "true"}) == ["Bike"]

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="gathering is PostgreSQL's (twins.listing)")
    @pytest.mark.parametrize("params", [{"q": "sn-0042"}, {"attr": "weight>99.5"}], ids=["search", "number"])
    def test_a_search_or_number_filter_matching_few_gathers_them_once_and_fetches_them_by_id(
        self, alice, params, django_assert_num_queries
    ):
        # As on the cards page (twins.listing.one_request): the sets an index finds are read once, then the page
        # is fetched by id from one array, instead of walking every thing of the owner's testing each row.
        twin_services.twin_create(owner=alice, name="Drill", serial="SN-0042", attributes={"weight": "99.9"})
        twin_services.twin_create(owner=alice, name="Plane", attributes={"weight": "12"})
        api = api_for(alice, token=True)
        api.get("/api/things/", {"cursor": "", **params})  # the token's own first-use work aside
        with django_assert_num_queries(6 if "q" in params else 5) as queries:
            body = api.get("/api/things/", {"cursor": "", **params}).json()
        assert [item["name"] for item in body["results"]] == ["Drill"]
        sqls = [query["sql"] for query in queries.captured_queries]
        assert len([sql for sql in sqls if " LIMIT " in sql and "found" in sql]) == 1  # the gathering
        assert any("unnest(" in sql and "ORDER BY" in sql for sql in sqls)

    @pytest.mark.needs("tags")
    def test_list_items_carry_the_active_tag_count(self, alice_api, grinder_tag):
        item = alice_api.get("/api/things/").json()["results"][0]
        assert item["tag_count"] == 1

    def test_bad_filter_value_is_a_400_naming_the_parameter(self, alice_api, grinder):
        response = alice_api.get("/api/things/", {"lost": "maybe"})
        assert response.status_code == 400
        assert response.json()["message"].startswith("lost:")


class TestCreate:
    def test_owner_creates_a_thing_and_gets_its_public_id(self, alice_api, alice):
        response = alice_api.post(
            "/api/things/",
            {"name": "Bike", "icon": "vehicle", "attributes": {"colour": "red", "gears": 21}},
            format="json",
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        twin = Twin.objects.get(slug=body["id"])
        assert twin.owner == alice
        assert twin.attributes == {"colour": "red", "gears": "21"}
        assert body["url"] == f"/api/things/{twin.slug}/"
        assert "owner" not in body

    def test_a_name_is_required(self, alice_api, alice):
        response = alice_api.post("/api/things/", {}, format="json")
        assert response.status_code == 400
        assert response.json()["message"].startswith("name:")
        assert response.json()["extra"]["fields"]["name"]

    def test_unknown_field_is_refused_by_name(self, alice_api, alice):
        response = alice_api.post("/api/things/", {"name": "Bike", "colour": "red"}, format="json")
        assert response.status_code == 400
        assert response.json()["message"] == "colour: Unknown field."
        assert not Twin.objects.exists()


class TestShowAndChange:
    def test_owner_sees_her_thing(self, alice_api, grinder):
        response = alice_api.get(f"/api/things/{grinder.slug}/")
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == grinder.slug
        assert body["reading_kind"] == "grind"
        assert body["latest"] is None
        assert body["photo_url"] is None

    def test_stranger_gets_the_same_404_as_for_an_unknown_id(self, carol_api, grinder):
        foreign = carol_api.get(f"/api/things/{grinder.slug}/")
        unknown = carol_api.get("/api/things/NoSuchThingAtAll000000/")
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json() == unknown.json() == NOT_FOUND
        assert foreign.content == unknown.content

    def test_owner_renames_and_sets_attributes_and_public_page(self, alice_api, grinder):
        response = alice_api.patch(
            f"/api/things/{grinder.slug}/",
            {"name": "Grinder", "attributes": {"burrs": "conical"}, "show_photo": True, "contact_name": "A."},
            format="json",
        )
        assert response.status_code == 200, response.json()
        grinder.refresh_from_db()
        assert (grinder.name, grinder.attributes, grinder.show_photo, grinder.contact_name) == (
            "Grinder",
            {"burrs": "conical"},
            True,
            "A.",
        )

    def test_owner_turns_lost_mode_on_with_a_reward_and_off_again(self, alice_api, grinder):
        response = alice_api.patch(
            f"/api/things/{grinder.slug}/", {"lost": True, "lost_reward": "Coffee for a year"}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["lost"] is True
        assert response.json()["lost_since"] is not None
        grinder.refresh_from_db()
        assert grinder.lost_reward == "Coffee for a year"
        alice_api.patch(f"/api/things/{grinder.slug}/", {"lost": False}, format="json")
        grinder.refresh_from_db()
        assert grinder.lost is False
        assert grinder.lost_since is None

    def test_a_refused_change_writes_nothing(self, alice_api, grinder):
        response = alice_api.patch(
            f"/api/things/{grinder.slug}/", {"name": "New name", "contact_email": "not an email"}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["message"].startswith("contact_email:")
        grinder.refresh_from_db()
        assert grinder.name == "Coffee grinder"

    def test_stranger_cannot_change_a_thing(self, carol_api, grinder):
        response = carol_api.patch(f"/api/things/{grinder.slug}/", {"name": "Mine now"}, format="json")
        assert response.status_code == 404
        grinder.refresh_from_db()
        assert grinder.name == "Coffee grinder"


class TestArchive:
    def test_owner_archives_and_restores(self, alice_api, grinder):
        response = alice_api.post(f"/api/things/{grinder.slug}/archive")
        assert response.status_code == 200
        assert response.json()["archived_at"] is not None
        assert alice_api.get("/api/things/").json()["count"] == 0
        assert alice_api.get(f"/api/things/{grinder.slug}/").status_code == 200
        response = alice_api.post(f"/api/things/{grinder.slug}/unarchive")
        assert response.json()["archived_at"] is None

    def test_stranger_cannot_archive(self, carol_api, grinder):
        assert carol_api.post(f"/api/things/{grinder.slug}/archive").status_code == 404
        grinder.refresh_from_db()
        assert grinder.archived_at is None


class TestPhoto:
    def test_owner_uploads_a_photo_and_it_is_served_privately(self, alice_api, alice_client, grinder):
        response = alice_api.put(
            f"/api/things/{grinder.slug}/photo", {"photo": upload("p.png", png_bytes())}, format="multipart"
        )
        assert response.status_code == 200, response.json()
        photo_url = response.json()["photo_url"]
        assert photo_url == f"/things/{grinder.slug}/photo"
        assert alice_client.get(photo_url)["Content-Type"] == "image/jpeg"

    def test_a_file_that_is_not_an_image_is_a_400_with_a_clear_message(self, alice_api, grinder):
        response = alice_api.put(
            f"/api/things/{grinder.slug}/photo", {"photo": upload("p.png", b"not an image")}, format="multipart"
        )
        assert response.status_code == 400
        assert response.json()["message"] == (
            "photo: That file is not a photo we can read. Use a JPEG, PNG, WebP or GIF image."
        )
        grinder.refresh_from_db()
        assert not grinder.photo

    def test_a_missing_file_is_a_400_naming_the_field(self, alice_api, grinder):
        response = alice_api.put(f"/api/things/{grinder.slug}/photo", {}, format="multipart")
        assert response.status_code == 400
        assert response.json()["message"].startswith("photo:")

    def test_owner_removes_the_photo(self, alice_api, grinder):
        alice_api.put(f"/api/things/{grinder.slug}/photo", {"photo": upload("p.png", png_bytes())}, format="multipart")
        assert alice_api.delete(f"/api/things/{grinder.slug}/photo").status_code == 204
        grinder.refresh_from_db()
        assert not grinder.photo


class TestAuth:
    @pytest.mark.parametrize("method", ["get", "post"])
    def test_anonymous_gets_a_json_refusal(self, anon_api, method):
        response = getattr(anon_api, method)("/api/things/")
        assert response.status_code in (401, 403)
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"message": "Authentication credentials were not provided.", "extra": {}}

    def test_token_auth_works_and_sees_only_the_token_owners_things(self, alice, carol, grinder):
        assert api_for(alice, token=True).get("/api/things/").json()["count"] == 1
        assert api_for(carol, token=True).get("/api/things/").json()["count"] == 0

    def test_a_wrong_token_is_refused(self, grinder):
        client = api_for(None)
        client.credentials(HTTP_AUTHORIZATION="Token nope")
        response = client.get("/api/things/")
        assert response.status_code in (401, 403)
        assert response.json()["message"] == "Invalid token."

    @pytest.mark.needs("tags")
    def test_output_carries_no_secrets_of_the_owner_or_others(self, alice, carol, grinder, grinder_tag):
        carol_token = Token.objects.create(user=carol).key
        client = api_for(alice, token=True)
        alice_token = Token.objects.get(user=alice).key
        bodies = b"".join(
            client.get(url).content
            for url in (
                "/api/things/",
                f"/api/things/{grinder.slug}/",
                f"/api/things/{grinder.slug}/readings/",
                f"/api/things/{grinder.slug}/tags/",
            )
        )
        for secret in (alice.password, carol.password, carol_token, alice_token, "alice@example.org"):
            assert secret.encode() not in bodies
