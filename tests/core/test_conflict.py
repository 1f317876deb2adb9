"""core.errors.Conflict: a domain refusal from any app becomes a 409 with its message, in pages and in the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core.errors import Conflict
from twins import services
from twins.history import TwinDeactivated

pytestmark = pytest.mark.django_db


def test_a_deactivated_twin_is_a_conflict_the_core_knows_without_knowing_twins():
    assert issubclass(TwinDeactivated, Conflict)
    assert TwinDeactivated().status == 409


def test_a_conflict_in_a_page_view_is_a_409_page_with_its_message(alice_client, grinder):
    services.twin_deactivate(twin=grinder)
    response = alice_client.post(f"/things/{grinder.slug}/journal/new/", {"title": "After the end"})
    assert response.status_code == 409
    assert "deactivated" in response.content.decode()


def test_a_conflict_in_the_api_is_a_409_in_the_one_error_shape(alice, grinder):
    alice_api = APIClient()
    alice_api.force_login(alice)
    services.twin_deactivate(twin=grinder)
    response = alice_api.post(f"/api/things/{grinder.slug}/journal/", {"title": "After the end"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"message": TwinDeactivated.message, "extra": {}}


class _PassingState(Conflict):
    status = 503
    retry_after = 30
    message = "Busy moving: try again in half a minute."


def test_a_conflict_with_retry_after_tells_a_page_client_when_to_try_again(rf):
    from core.middleware import DomainErrorMiddleware

    response = DomainErrorMiddleware(lambda request: None).process_exception(rf.post("/things/x/"), _PassingState())
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "try again in half a minute" in response.content.decode()


def test_a_conflict_with_retry_after_tells_an_api_client_when_to_try_again():
    from core.exceptions import api_exception_handler

    response = api_exception_handler(_PassingState(), {})
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.data == {"message": _PassingState.message, "extra": {}}


def test_a_plain_conflict_names_no_retry_time(alice_client, grinder):
    services.twin_deactivate(twin=grinder)
    response = alice_client.post(f"/things/{grinder.slug}/journal/new/", {"title": "After the end"})
    assert response.status_code == 409
    assert "Retry-After" not in response
