"""Reads for the Connections pages and the agent activity of a twin. The agent passed in is already the
viewer's (the views resolve it from the signed-in owner or from a twin they own); every lookup is scoped to it.
An agent not made yet (``None``: nothing was ever written for it) has no connections and no activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from didcomm.models import Agent, Connection, InboundMessage, OutboundMessage
from didcomm.timeline import describe, peer_name
from owners.models import Owner
from twins.models import Twin


def agent_find(*, owner: Owner, twin: Twin | None = None) -> Agent | None:
    """The agent of ``twin`` (already checked to be the owner's) or else the owner's own; ``None`` until the
    first write that needs it makes it (didcomm.services)."""
    if twin is not None:
        agent = Agent.objects.filter(twin=twin).first()
        if agent is not None:
            agent.twin = twin
        return agent
    agent = Agent.objects.filter(owner=owner).first()
    if agent is not None:
        agent.owner = owner
    return agent


def connection_list(*, agent: Agent) -> QuerySet[Connection]:
    """The agent's connections, newest first; open invitations (nobody answered yet) are not connections."""
    return Connection.objects.filter(agent=agent).exclude(state=Connection.State.INVITED)


def connection_get(*, agent: Agent | None, connection_id: int, for_update: bool = False) -> Connection:
    """One of the agent's connections (or invitations); another agent's id is a 404 like an unknown one."""
    if agent is None:
        raise Http404("No connection matches the given query.")
    qs = Connection.objects.filter(agent=agent)
    if for_update:
        qs = qs.select_for_update()
    connection = get_object_or_404(qs, pk=connection_id)
    connection.agent = agent
    return connection


def invitation_latest(*, agent: Agent) -> Connection | None:
    return Connection.objects.filter(agent=agent, state=Connection.State.INVITED).first()


def agent_refusal(twin: Twin) -> str:
    """Why the twin's agent sends nothing from this instance ("" if it does): the twin moved to another one, or
    is still on its way here (didcomm.moving)."""
    if twin.moved_to:
        return f"This thing has moved to {twin.moved_to}: its agent sends and accepts no messages here any more."
    if twin.arriving:
        return "This thing is still on its way here: its agent sends and accepts messages once it has arrived."
    return ""


def send_refusal(connection: Connection) -> str:
    """Why nothing can be sent over ``connection`` now ("" if it can), in words for the person sending."""
    agent = connection.agent
    if agent.twin_id is not None and agent.twin.deactivated_at is not None:
        return "This thing is deactivated: its agent sends and accepts no messages any more."
    if agent.twin_id is not None and (agent.twin.moved_to or agent.twin.arriving):
        return agent_refusal(agent.twin)
    if connection.state == Connection.State.ABANDONED:
        return "This connection was removed: it sends and accepts no messages any more."
    if connection.state == Connection.State.INVITED or not connection.their_verkey:
        return "Nobody has answered this invitation yet: there is no one to send to."
    if connection.state == Connection.State.REQUESTED:
        # RFC 0023: nothing but the exchange goes over a connection before the responder's answer.
        return "The other agent has not answered yet: messages can be sent once the connection is made."
    return ""


@dataclass(frozen=True)
class Activity:
    """One message through the agent, received or sent, as the owner reads it."""

    direction: str  # "received" or "sent"
    time: datetime
    kind: str  # "Message", "Trust ping", ...
    text: str
    message_type: str
    peer: str  # the connection's label, or what else names the other side
    connection_id: int | None
    status: str = ""  # sent messages: queued, sent or failed
    error: str = ""


def _peer(connection: Connection | None, fallback: str = "") -> str:
    if connection is None and fallback:
        return fallback
    return peer_name(connection)


def _activity(inbound: QuerySet[InboundMessage], outbound: QuerySet[OutboundMessage], limit: int) -> list[Activity]:
    items = []
    for message in inbound.select_related("connection")[:limit]:
        kind, text = describe(message.type, message.body)
        items.append(
            Activity(
                direction="received",
                time=message.received_at,
                kind=kind,
                text=text,
                message_type=message.type,
                peer=_peer(message.connection, message.sender_verkey and f"key {message.sender_verkey[:8]}…"),
                connection_id=message.connection_id,
            )
        )
    for message in outbound.select_related("connection")[:limit]:
        kind, text = describe(message.type, message.body)
        items.append(
            Activity(
                direction="sent",
                time=message.created_at,
                kind=kind,
                text=text,
                message_type=message.type,
                peer=_peer(message.connection),
                connection_id=message.connection_id,
                status=message.status,
                error=message.last_error,
            )
        )
    items.sort(key=lambda item: item.time, reverse=True)
    return items[:limit]


def current_owners_messages(
    inbound: QuerySet[InboundMessage], outbound: QuerySet[OutboundMessage], twin: Twin | None
) -> tuple[QuerySet[InboundMessage], QuerySet[OutboundMessage]]:
    """Of a twin's agent's messages (`inbound`, `outbound`), the current owner's: those it received and sent since
    its owner has the thing (`twin.owner_since`); all of them for an agent of no twin, or a twin never sold.

    The one cut between owners, for every reader of an agent's messages: the pages (activity_list, twin_activity)
    and a move's export (didcomm.portability), which carries only what the pages show. Messages from before were
    a previous owner's conversations (with their mechanic, insurer, maker), theirs like their grants and keepers:
    a buyer does not read them, whether or not the seller removed their history entries (didcomm.redaction). The
    connections themselves stay the thing's (rotated to fresh keys at the sale)."""
    if twin is None or twin.owner_since is None:
        return inbound, outbound
    return inbound.filter(received_at__gte=twin.owner_since), outbound.filter(created_at__gte=twin.owner_since)


def activity_list(*, agent: Agent, connection: Connection | None = None, limit: int = 50) -> list[Activity]:
    """Messages received and sent by the agent (on one connection if given) since its owner has it, newest first."""
    inbound = InboundMessage.objects.filter(agent=agent)
    outbound = OutboundMessage.objects.filter(agent=agent)
    if connection is not None:
        inbound, outbound = inbound.filter(connection=connection), outbound.filter(connection=connection)
    twin = agent.twin if agent.twin_id is not None else None
    return _activity(*current_owners_messages(inbound, outbound, twin), limit)


@dataclass(frozen=True)
class Overview:
    """The Connections page of one agent."""

    invitation: Connection | None  # the latest open one
    connections: QuerySet[Connection]
    activity: list[Activity]


def agent_overview(*, agent: Agent | None, limit: int = 20) -> Overview:
    """The agent's latest open invitation, its connections and its latest activity."""
    if agent is None:
        return Overview(invitation=None, connections=Connection.objects.none(), activity=[])
    return Overview(
        invitation=invitation_latest(agent=agent),
        connections=connection_list(agent=agent),
        activity=activity_list(agent=agent, limit=limit),
    )


def twin_activity(*, twin: Twin, limit: int = 10) -> list[Activity]:
    """The twin's agent activity for its private page (the twin is already the viewer's). Reads only: a twin
    whose agent was never made has none."""
    inbound = InboundMessage.objects.filter(agent__twin=twin)
    return _activity(*current_owners_messages(inbound, OutboundMessage.objects.filter(agent__twin=twin), twin), limit)


def thing_agent_panel(request, twin: Twin) -> dict:
    """The "Agent activity" panel of a thing's private page (twins.panels, registered in didcomm.apps)."""
    return {"agent_activity": twin_activity(twin=twin)}
