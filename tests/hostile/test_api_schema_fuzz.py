"""Hostile input: schemathesis generates requests for every operation of the project's own OpenAPI schema, valid
and invalid, and holds the answers to it: never a server error, never a response the schema does not describe."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


# What the answers are held to: no server error; the status code, content type, headers and body each as the schema
# describes them; and input the schema calls invalid is refused. (Not checked: that every input the schema allows is
# accepted: business rules such as "a reading at most 5 minutes ahead" or "a name that is not only spaces" are
# refused with a 400 the schema documents but cannot express.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(autouse=True)
def _requests_keep_the_test_transaction():
    """schemathesis calls the WSGI app itself, not through Django's test client, which is what keeps Django from
    closing the connection at each request (close_old_connections sees a test's open transaction as a reason to
    close it, on PostgreSQL). Do as the test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(grinder, grinder_tag) -> str:
    return Token.objects.get_or_create(user=grinder.owner)[0].key


@pytest.mark.django_db
@schema.parametrize()
# Derandomized: the suite sees the same cases every run (a red CI names a change, not a dice roll); `make fuzz`-style
# exploration is the job of tests/hostile/test_fuzz.py.
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_within_its_schema_and_never_with_a_server_error(case, token, grinder):
    case.headers = {**(case.headers or {}), "Authorization": f"Token {token}"}
    if case.path_parameters and "slug" in case.path_parameters:
        case.path_parameters["slug"] = grinder.slug
    case.call_and_validate(checks=CHECKS)
