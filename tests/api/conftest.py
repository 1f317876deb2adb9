"""API clients for the shared actors: session by default, token where the test says so."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from owners.models import Owner


def api_for(owner: Owner | None, *, token: bool = False) -> APIClient:
    client = APIClient()
    if owner is not None and token:
        key = Token.objects.get_or_create(user=owner)[0].key
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    elif owner is not None:
        client.force_login(owner)
    return client


@pytest.fixture
def alice_api(alice) -> APIClient:
    return api_for(alice)


@pytest.fixture
def carol_api(carol) -> APIClient:
    return api_for(carol)


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()
