"""The hook is documented in the OpenAPI schema with its default payload format."""

from __future__ import annotations

from rest_framework.test import APIClient


def test_the_openapi_schema_documents_the_hook_and_its_default_format(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/hooks/{source_id}"]["post"]
    assert '"readings"' in operation["description"] and "webhook-signature" in operation["description"]
    assert {param["name"] for param in operation["parameters"]} >= {"webhook-id", "webhook-timestamp"}
    assert operation["requestBody"]["content"]["application/json"]["examples"]
    assert {"200", "400", "401", "404", "413", "429", "503"} <= set(operation["responses"])
