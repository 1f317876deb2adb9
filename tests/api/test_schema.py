"""OpenAPI schema: generated without warnings, served to anyone (the docs page made from it: test_docs_page.py)."""

from __future__ import annotations

from django.apps import apps
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator


def test_schema_generates_without_warnings_or_errors(db):
    GENERATOR_STATS.reset()
    GENERATOR_STATS.silent = True
    try:
        schema = SchemaGenerator().get_schema(request=None, public=True)
        assert not GENERATOR_STATS._warn_cache, list(GENERATOR_STATS._warn_cache)
        assert not GENERATOR_STATS._error_cache, list(GENERATOR_STATS._error_cache)
    finally:
        GENERATOR_STATS.silent = False
    assert "/api/things/{slug}/readings/" in schema["paths"]


def test_schema_command_validates_and_fails_on_no_warning(tmp_path, db):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


def test_schema_endpoint_is_served_to_anyone(anon_api):
    response = anon_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/things/",
        "/api/things/{slug}/",
        "/api/things/{slug}/archive",
        "/api/things/{slug}/unarchive",
        "/api/things/{slug}/photo",
        "/api/things/{slug}/readings/",
        "/api/things/{slug}/journal/",
        "/api/things/{slug}/journal/{note_id}/",
    } <= set(paths)
    # Each feature documents its own routes, present exactly when the feature is installed.
    tag_paths = {"/api/things/{slug}/tags/", "/api/things/{slug}/tags/{tag_id}/retire"}
    assert (tag_paths <= set(paths)) == apps.is_installed("tags")
    assert not tag_paths & set(paths) or apps.is_installed("tags")
    assert not any("{id}" in path or "{pk}" in path for path in paths)


def test_reading_create_documents_the_default_kind_and_unit(anon_api):
    schema = anon_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/things/{slug}/readings/"]["post"]
    assert "reading_kind" in operation["description"]
    assert "reading_unit" in operation["description"]
    assert operation["requestBody"]["content"]["application/json"]["examples"]
