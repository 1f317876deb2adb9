"""Sharing's actors: alice's grinder with a completed DIDComm connection to a peer (as a manufacturer's agent
would be), a webhook endpoint of alice's, and a grant of the grinder's readings to the connection. General on
purpose: any test of tests/sharing may use them."""

from __future__ import annotations

import pytest

from didcomm.models import Connection
from sharing import grants
from sharing.models import Grant, WebhookEndpoint
from ssi.keys import SigningKey
from tests.didcomm.endpoints import closed_port, completed_connection


@pytest.fixture
def peer() -> SigningKey:
    """The peer agent's key (the other side of `connection`)."""
    return SigningKey.generate()


@pytest.fixture
def connection(grinder, peer) -> Connection:
    """A completed connection of the grinder's own agent with `peer` (its endpoint refuses connections)."""
    return completed_connection(
        twin=grinder,
        peer=peer,
        their_label="Acme Grinders",
        their_did="did:peer:2.Vz6MkAcmeExample",
        their_endpoint=f"http://127.0.0.1:{closed_port()}/",
    )


@pytest.fixture
def endpoint_and_secret(alice) -> tuple[WebhookEndpoint, str]:
    return grants.webhook_endpoint_create(owner=alice, label="Insurer", url=f"http://127.0.0.1:{closed_port()}/hook")


@pytest.fixture
def endpoint(endpoint_and_secret) -> WebhookEndpoint:
    """A webhook endpoint of alice's on loopback (tests allow private addresses; nothing listens there)."""
    return endpoint_and_secret[0]


@pytest.fixture
def grant(alice, grinder, connection) -> Grant:
    """Alice lets `connection` receive every reading of the grinder, until revoked."""
    return grants.grant_create(twin=grinder, party=connection, kinds=["readings"], by=alice)


# --- Values for tests/test_access_matrix.py: one of alice's each, for the sharing routes' ids ------------------


def matrix_grant(world) -> Grant:
    return Grant.objects.get_or_create(
        twin=world.thing,
        connection=world.thing_connection,
        defaults={"kinds": ["readings"], "created_by": world.alice},
    )[0]


def matrix_endpoint(world) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(owner=world.alice).first()
    return endpoint or grants.webhook_endpoint_create(owner=world.alice, label="Matrix", url="http://127.0.0.1:9/m")[0]


def matrix_request(world):
    """A grant request about alice's thing, received over the thing's connection."""
    from didcomm.models import InboundMessage

    connection = world.thing_connection
    return InboundMessage.objects.get_or_create(
        agent=connection.agent,
        connection=connection,
        sender_verkey=connection.their_verkey,
        message_id="matrix-grant-request",
        defaults={
            "type": "https://thingstead.org/didcomm/grants/1.0/request",
            "body": {"thing": world.thing.did, "kinds": ["readings"]},
        },
    )[0]
