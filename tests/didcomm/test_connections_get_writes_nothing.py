"""Opening a Connections page writes nothing: not even the agent, which the first POST that needs it makes.

Every GET route of didcomm's page URL confs is opened twice, for a twin's agent and for the owner's own: before
the agent exists (the pages that need a connection are then a 404) and once it has a connection, an invitation
and messages. Each captures its SQL and must hold no INSERT, UPDATE or DELETE.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern

from didcomm import keys, outbox, owner_urls, services
from didcomm.models import Agent, Connection
from ssi.keys import SigningKey
from ssi.multibase import b58encode

pytestmark = pytest.mark.django_db

_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if _WRITE.match(query["sql"])]


def _get_routes() -> list[str]:
    """The URL names of every Connections page a GET opens (the POST-only ones refuse a GET with a 405)."""
    return sorted(
        pattern.name.split("-", 1)[1]
        for pattern in owner_urls.urlpatterns
        if isinstance(pattern, URLPattern) and pattern.name.startswith("owner-")
    )


def _base(scope: str, grinder) -> str:
    return f"/things/{grinder.slug}/connections/" if scope == "thing" else "/profile/connections/"


def _url(route: str, base: str, connection_id: int) -> str:
    return {
        "connections": base,
        "invitation-create": f"{base}invitation/",
        "invitation-accept": f"{base}accept/",
        "connection": f"{base}{connection_id}/",
        "connection-message": f"{base}{connection_id}/message/",
        "connection-ping": f"{base}{connection_id}/ping/",
        "connection-remove": f"{base}{connection_id}/remove/",
    }[route]


def _agent(scope: str, alice, grinder) -> Agent:
    return services.agent_for_twin(grinder) if scope == "thing" else services.agent_for_owner(alice)


def _completed(agent: Agent) -> Connection:
    connection = Connection(
        agent=agent,
        state=Connection.State.COMPLETED,
        their_label="ACME Corp",
        their_verkey=b58encode(SigningKey.generate().verify_key.raw),
        their_endpoint="http://127.0.0.1:9/",
    )
    keys.pairwise_key_create(connection=connection)
    connection.save()
    return connection


def test_every_connections_page_route_is_covered_here():
    assert _get_routes() == sorted(
        [
            "connections",
            "invitation-create",
            "invitation-accept",
            "connection",
            "connection-message",
            "connection-ping",
            "connection-remove",
        ]
    )


@pytest.mark.parametrize("route", _get_routes())
@pytest.mark.parametrize("scope", ["thing", "owner"])
def test_a_get_of_a_connections_page_of_an_agent_not_yet_made_writes_nothing(scope, route, alice_client, grinder):
    with CaptureQueriesContext(db_connection) as queries:
        response = alice_client.get(_url(route, _base(scope, grinder), connection_id=1))
    assert response.status_code in (200, 404, 405)
    assert _writes(queries) == []
    assert not Agent.objects.exists()


@pytest.mark.parametrize("route", _get_routes())
@pytest.mark.parametrize("scope", ["thing", "owner"])
def test_a_get_of_a_connections_page_of_an_agent_in_use_writes_nothing(scope, route, alice, alice_client, grinder):
    agent = _agent(scope, alice, grinder)
    connection = _completed(agent)
    outbox.invitation_create(agent=agent)
    outbox.basic_message_send(connection=connection, content="hello")
    with CaptureQueriesContext(db_connection) as queries:
        response = alice_client.get(_url(route, _base(scope, grinder), connection_id=connection.pk))
    assert response.status_code in (200, 405)
    assert _writes(queries) == []


@pytest.mark.parametrize("scope", ["thing", "owner"])
def test_the_list_page_of_an_agent_not_yet_made_is_the_empty_page(scope, alice_client, grinder):
    response = alice_client.get(_base(scope, grinder))
    assert response.status_code == 200
    assert response.context["invitation"] is None
    assert list(response.context["connections"]) == [] and response.context["activity"] == []


@pytest.mark.parametrize("scope", ["thing", "owner"])
def test_the_first_invitation_makes_the_agent(scope, alice, alice_client, grinder):
    response = alice_client.post(f"{_base(scope, grinder)}invitation/")
    assert response.status_code == 302
    agent = Agent.objects.get()
    assert (agent.twin_id, agent.owner_id) == ((grinder.pk, None) if scope == "thing" else (None, alice.pk))
    assert Connection.objects.get(agent=agent).state == Connection.State.INVITED


@pytest.mark.parametrize("scope", ["thing", "owner"])
def test_an_invitation_that_cannot_be_accepted_makes_no_agent(scope, alice_client, grinder):
    response = alice_client.post(f"{_base(scope, grinder)}accept/", {"invitation_url": "https://example.org/?oob=e30"})
    assert response.status_code == 400
    assert not Agent.objects.exists()
