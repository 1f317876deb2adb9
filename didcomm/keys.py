"""Our agents' keys: an agent's own key (what its invitations name), the pairwise key of each connection, and the
recipient keys an inbound envelope is looked up by. Reads and writes of keys only: nothing here sends."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from core.vault import seal_key, unseal_key
from didcomm.models import Agent, Connection, OutboundMessage, RecipientKey
from ssi.keys import SigningKey
from ssi.multibase import b58encode
from twins.identity import agent_key

logger = logging.getLogger(__name__)


def verkey_of(key: SigningKey) -> str:
    return b58encode(key.verify_key.raw)


def endpoint_url() -> str:
    """Where peers send to: the HTTP endpoint every twin's DID document names (didcomm/urls.py)."""
    return f"{settings.SITE_URL}/didcomm/"


def agent_key_of(agent: Agent) -> SigningKey:
    """The agent's own key: what its invitations name (a twin's is the twin's agent key, rotated at transfer)."""
    if agent.twin_id is not None:
        return agent_key(agent.twin)
    return unseal_key(agent.key_sealed)


def recipient_key_ensure(*, agent: Agent) -> str:
    """Register the agent's own verkey for inbound lookup; returns it.

    The verkey comes from this agent's private key, so a row of it naming another agent (or a connection) is
    wrong however it got there: it is taken back, loudly, rather than counted as registered (its invitations
    would otherwise reach nobody; review finding 2)."""
    verkey = verkey_of(agent_key_of(agent))
    row, _ = RecipientKey.objects.get_or_create(verkey=verkey, defaults={"agent": agent})
    if row.agent_id != agent.pk or row.connection_id is not None:
        logger.error(
            "DIDComm: agent %s's own key was registered for agent %s (connection %s): taken back",
            agent.pk,
            row.agent_id,
            row.connection_id,
        )
        RecipientKey.objects.filter(pk=row.pk).update(agent=agent, connection=None)
    return verkey


def pairwise_key_create(*, connection: Connection) -> SigningKey:
    """A fresh key for one connection: sealed on the connection, registered for inbound lookup, and set as
    ``my_verkey`` (the caller saves the connection)."""
    key = SigningKey.generate()
    connection.my_key_sealed = seal_key(key)
    connection.my_verkey = verkey_of(key)
    if connection.pk is None:
        connection.save()
    RecipientKey.objects.create(agent=connection.agent, connection=connection, verkey=connection.my_verkey)
    return key


def connection_key(connection: Connection) -> SigningKey:
    """The key we use on a connection: its pairwise key, or (before one exists) the agent's own key."""
    if connection.my_key_sealed:
        return unseal_key(connection.my_key_sealed)
    return agent_key_of(connection.agent)


@transaction.atomic
def connection_abandon(*, connection: Connection) -> None:
    """Forget a connection: its keys open nothing any more, messages on it are refused, and what was still
    waiting to be sent on it is not sent. Its message history stays, marked as belonging to an abandoned
    connection."""
    connection.state = Connection.State.ABANDONED
    connection.save(update_fields=["state", "updated_at"])
    RecipientKey.objects.filter(connection=connection).delete()
    OutboundMessage.objects.filter(connection=connection, status=OutboundMessage.Status.QUEUED).update(
        status=OutboundMessage.Status.FAILED, last_error="connection removed before delivery"
    )
