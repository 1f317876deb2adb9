"""/api/things/<slug>/tags/: create, list and retire tags."""

from __future__ import annotations

from django.conf import settings

from tags.models import Tag
from twins import services as twin_services


def test_creating_a_tag_returns_what_is_needed_to_print_it(alice_api, alice_client, grinder):
    response = alice_api.post(f"/api/things/{grinder.slug}/tags/", {"label": "lid"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    tag = Tag.objects.get(pk=body["id"])
    assert tag.twin == grinder
    assert tag.status == "active"
    assert body["token"] == tag.token
    assert body["code"] == f"{tag.code[:4]}-{tag.code[4:]}"
    assert body["url"] == f"{settings.SITE_URL}/t/{tag.token}"
    assert body["qr_png"] == f"/things/{grinder.slug}/tags/{tag.pk}/qr.png"
    assert body["qr_svg"] == f"/things/{grinder.slug}/tags/{tag.pk}/qr.svg"
    assert body["label"] == "lid"


def test_tags_are_listed_with_their_status(alice_api, grinder, grinder_tag):
    response = alice_api.get(f"/api/things/{grinder.slug}/tags/")
    assert response.status_code == 200
    assert [(item["id"], item["status"]) for item in response.json()["results"]] == [(grinder_tag.pk, "active")]


def test_owner_retires_a_tag_and_retiring_again_is_harmless(alice_api, grinder, grinder_tag):
    url = f"/api/things/{grinder.slug}/tags/{grinder_tag.pk}/retire"
    response = alice_api.post(url)
    assert response.status_code == 200
    assert response.json()["status"] == "retired"
    assert alice_api.post(url).status_code == 200
    grinder_tag.refresh_from_db()
    assert grinder_tag.status == "retired"


def test_an_archived_thing_gets_no_new_tags(alice_api, grinder):
    twin_services.twin_set_archived(twin=grinder, archived=True)
    response = alice_api.post(f"/api/things/{grinder.slug}/tags/", {}, format="json")
    assert response.status_code == 400
    assert "archived" in response.json()["message"]
    assert not Tag.objects.exists()


def test_a_too_long_label_is_refused(alice_api, grinder):
    response = alice_api.post(f"/api/things/{grinder.slug}/tags/", {"label": "x" * 81}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("label:")
    assert not Tag.objects.exists()


def test_stranger_can_neither_list_create_nor_retire(carol_api, grinder, grinder_tag):
    assert carol_api.get(f"/api/things/{grinder.slug}/tags/").status_code == 404
    assert carol_api.post(f"/api/things/{grinder.slug}/tags/", {}, format="json").status_code == 404
    assert carol_api.post(f"/api/things/{grinder.slug}/tags/{grinder_tag.pk}/retire").status_code == 404
    assert Tag.objects.count() == 1
    grinder_tag.refresh_from_db()
    assert grinder_tag.status == "active"


def test_a_tag_is_retired_only_under_its_own_thing(alice_api, alice, grinder_tag):
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    assert alice_api.post(f"/api/things/{kettle.slug}/tags/{grinder_tag.pk}/retire").status_code == 404
    grinder_tag.refresh_from_db()
    assert grinder_tag.status == "active"
