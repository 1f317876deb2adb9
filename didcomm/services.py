"""Writes behind the Connections pages of a twin's agent and of an owner's own: an agent is made on the first
write that needs one (never on a page view), and a message or ping goes out only on a connection that can take
it."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from core.errors import Conflict
from core.vault import seal_key
from didcomm import keys, outbox, selectors, timeline
from didcomm.models import Agent, Connection, OutboundMessage
from owners.models import Owner
from ssi.keys import SigningKey
from twins.history import TwinDeactivated
from twins.models import Twin


class SendRefused(Exception):
    """Nothing can be sent over the connection now; ``str(exc)`` says why (selectors.send_refusal)."""


class AgentElsewhere(Conflict):
    """The twin moved to another instance, or has not finished arriving here: its agent makes no connections
    (409 with the reason, core.errors)."""


def agent_for_twin(twin: Twin) -> Agent:
    """The twin's agent, made on first use (it answers to the twin's own agent key: no key of its own)."""
    agent, _ = Agent.objects.get_or_create(twin=twin)
    agent.twin = twin  # the caller's instance (already fetched, maybe locked)
    return agent


def agent_for_owner(owner: Owner) -> Agent:
    """The owner's own agent, made with a fresh key on first use."""
    agent = Agent.objects.filter(owner=owner).first()
    if agent is None:
        try:
            with transaction.atomic():
                agent = Agent.objects.create(owner=owner, key_sealed=seal_key(SigningKey.generate()))
        except IntegrityError:  # created by a concurrent request
            agent = Agent.objects.get(owner=owner)
    agent.owner = owner
    return agent


def _agent(owner: Owner, twin: Twin | None) -> Agent:
    if twin is not None and twin.deactivated_at is not None:
        # A deactivated twin's agent makes no new connections (and takes no messages: didcomm.inbound).
        raise TwinDeactivated(TwinDeactivated.message)
    if twin is not None and (twin.moved_to or twin.arriving):
        # Its agent is on another instance now, or not here yet (didcomm.moving).
        raise AgentElsewhere(selectors.agent_refusal(twin))
    return agent_for_twin(twin) if twin is not None else agent_for_owner(owner)


@transaction.atomic
def agent_invitation_create(*, owner: Owner, twin: Twin | None = None) -> Connection:
    """A new invitation from the twin's agent (``twin``, already checked to be the owner's) or the owner's own."""
    return outbox.invitation_create(agent=_agent(owner, twin))


@transaction.atomic
def agent_invitation_accept(*, owner: Owner, invitation_url: str, twin: Twin | None = None) -> Connection:
    """Accept another agent's invitation for the twin's agent or the owner's own. An invitation that cannot be
    accepted (didcomm.exchange.InvitationError) rolls everything back, an agent made for it included."""
    return outbox.invitation_accept(agent=_agent(owner, twin), invitation_url=invitation_url)


def _sendable(agent: Agent | None, connection_id: int) -> Connection:
    # Locked: a removal committing between the check and the send would leave a message queued on it.
    connection = selectors.connection_get(agent=agent, connection_id=connection_id, for_update=True)
    refusal = selectors.send_refusal(connection)
    if refusal:
        raise SendRefused(refusal)
    return connection


@transaction.atomic
def connection_message_send(*, agent: Agent | None, connection_id: int, content: str) -> OutboundMessage:
    """A basic message from the Connections page; the twin's open private page shows it."""
    outbound = outbox.basic_message_send(connection=_sendable(agent, connection_id), content=content)
    timeline.record_outbound(outbound)
    return outbound


@transaction.atomic
def connection_ping_send(*, agent: Agent | None, connection_id: int) -> OutboundMessage:
    """A trust ping from the Connections page (its answer sets the round-trip time)."""
    outbound = outbox.ping_send(connection=_sendable(agent, connection_id))
    timeline.record_outbound(outbound)
    return outbound


@transaction.atomic
def connection_remove(*, agent: Agent | None, connection_id: int) -> Connection:
    """Remove one of the agent's connections (see didcomm.keys.connection_abandon); removing it again is a
    no-op. Returns it."""
    connection = selectors.connection_get(agent=agent, connection_id=connection_id, for_update=True)
    if connection.state != Connection.State.ABANDONED:
        keys.connection_abandon(connection=connection)
    return connection
