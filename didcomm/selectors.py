"""Reads for the owner's Connections page. The twin passed in is already the viewer's (twins.selectors.twin_get)."""

from __future__ import annotations

from django.db.models import QuerySet

from didcomm.models import Connection, InboundMessage
from twins.models import Twin


def connection_list(*, twin: Twin) -> QuerySet[Connection]:
    return Connection.objects.filter(twin=twin).exclude(state=Connection.State.INVITED)


def invitation_latest(*, twin: Twin) -> Connection | None:
    return Connection.objects.filter(twin=twin, state=Connection.State.INVITED).first()


def inbound_list(*, twin: Twin) -> QuerySet[InboundMessage]:
    return InboundMessage.objects.filter(twin=twin).select_related("connection")
