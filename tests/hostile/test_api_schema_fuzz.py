"""Hostile input: schemathesis generates requests for every operation of the project's own OpenAPI schema, valid
and invalid, and holds the answers to it: never a server error, never a response the schema does not describe."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import ignored_auth

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture
def token(grinder, grinder_tag) -> str:
    return Token.objects.get_or_create(user=grinder.owner)[0].key


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_schema_and_never_with_a_server_error(case, token, grinder):
    case.headers = {**(case.headers or {}), "Authorization": f"Token {token}"}
    if case.path_parameters and "slug" in case.path_parameters:
        case.path_parameters["slug"] = grinder.slug
    # The request carries a real token (set here, after generation), so the check that expects generated credentials
    # to be refused does not apply; every other check does.
    case.call_and_validate(excluded_checks=[ignored_auth])
