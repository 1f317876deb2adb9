"""A GET of any credentials route runs no INSERT, UPDATE or DELETE (as tests/test_get_requests_write_nothing.py
holds owners, twins and tags to it): pages read what services wrote."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse

from credentials import urls as credential_urls
from credentials.models import VerifierPolicy
from credentials.services import verifier_session_start
from tests.conftest import client_for
from tests.credentials.helpers import standing

pytestmark = pytest.mark.django_db
_WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\b", re.IGNORECASE)
ROUTES = sorted(p.name for p in credential_urls.urlpatterns if isinstance(p, URLPattern) and p.name)


@pytest.mark.parametrize("name", ROUTES)
def test_a_get_writes_nothing(name, grinder, alice):
    credential = standing(grinder)
    policy = VerifierPolicy.objects.create(owner=alice, name="Shop", accepted_models=["X"])
    session = verifier_session_start(policy=policy)
    values = {
        "credential_id": credential.pk,
        "list_id": credential.status_list.public_id,
        "session_id": session.public_id,
        "policy_id": policy.public_id,
    }
    pattern = next(p for p in credential_urls.urlpatterns if getattr(p, "name", None) == name)
    url = reverse(name, kwargs={k: values[k] for k in pattern.pattern.converters})
    for client in (client_for(alice), Client()):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code < 500, f"GET {url}: {response.status_code}"
        writes = [q["sql"] for q in queries.captured_queries if _WRITE.match(q["sql"])]
        assert not writes, f"GET {url} wrote: {writes}"


def test_every_route_is_walked():
    assert {"credential-wallet", "credential-status-list", "verify-credential", "verify-session"} <= set(ROUTES)
