"""Reads for the owner's Connections page. The agent passed in is already the viewer's."""

from __future__ import annotations

from django.db.models import QuerySet

from didcomm.models import Agent, Connection, InboundMessage


def connection_list(*, agent: Agent) -> QuerySet[Connection]:
    return Connection.objects.filter(agent=agent).exclude(state=Connection.State.INVITED)


def invitation_latest(*, agent: Agent) -> Connection | None:
    return Connection.objects.filter(agent=agent, state=Connection.State.INVITED).first()


def inbound_list(*, agent: Agent) -> QuerySet[InboundMessage]:
    return InboundMessage.objects.filter(agent=agent).select_related("connection")
