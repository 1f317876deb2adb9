"""The support part of a moving twin (issue 18): the owner's support cases about it, with every message.

A case keeps its ``public_id`` (in the owner's URLs) and its thread id (the organisation's side knows the case by
it); each message keeps its message id, so a redelivered message still lands once. A case goes over a connection
of the twin's agent, which the "didcomm" part restored (``arrival.lookup``); the owner's own agent does not move,
so a case over one of its connections arrives without a connection (it can be read, not continued). Messages point
at the DIDComm messages that carried them where those came along too.

Only the current owner's cases travel (a previous owner's stay, theirs: a sale closes them, it does not give them
away), and only the owner's side is the twin's: an organisation's queue (the party's side) knows the thing only by
what the owner sent, and stays with the organisation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from support.models import Case, CaseMessage
from twins.models import Twin
from twins.portability import Arrival, PackageError, Part, register

_CASE_FIELDS = ("public_id", "thread_id", "mode", "status", "subject", "peer_label", "thing")
_MESSAGE_FIELDS = (
    "message_id",
    "kind",
    "incoming",
    "author_label",
    "text",
    "context",
    "attachments",
    "asks",
    "status",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def export(twin: Twin) -> list[dict[str, Any]]:
    # The current owner's cases only: a previous owner's stay on the thing after a sale (closed, theirs to read),
    # and on the destination every case is the arriving owner's, its owner's messages written by them.
    cases = list(
        Case.objects.filter(twin=twin, side=Case.Side.OWNER, owner_id=twin.owner_id).order_by("created_at", "id")
    )
    out = []
    for case in cases:
        out.append(
            {
                **{name: getattr(case, name) for name in _CASE_FIELDS},
                "connection": case.connection_id,
                "created_at": _iso(case.created_at),
                "updated_at": _iso(case.updated_at),
                "messages": [
                    {
                        **{name: getattr(message, name) for name in _MESSAGE_FIELDS},
                        "by_owner": message.author_id is not None and message.author_id == case.owner_id,
                        "outbound": message.outbound_id,
                        "inbound": message.inbound_id,
                        "read_at": _iso(message.read_at),
                        "created_at": _iso(message.created_at),
                    }
                    for message in case.messages.order_by("created_at", "id")
                ],
            }
        )
    return out


def _restore(data: list[dict[str, Any]], arrival: Arrival) -> None:
    here = {case.public_id: case for case in Case.objects.filter(public_id__in=[item["public_id"] for item in data])}
    if any(case.twin_id != arrival.twin.pk or case.side != Case.Side.OWNER for case in here.values()):
        raise PackageError("A support case of this thing is already on this instance.")
    for item in data:
        kept = here.get(item["public_id"])
        if kept is not None:
            # The thing came back to a host it left, and the copy's cases followed it (twins.portability.give_way).
            if kept.owner_id != arrival.owner.pk:
                continue  # another account's case about the thing (a previous owner's): theirs, as it is here
            kept.delete()  # the owner's own, which the package brings back with what was added since
        case = Case.objects.create(
            side=Case.Side.OWNER,
            owner=arrival.owner,
            twin=arrival.twin,
            connection=arrival.lookup("didcomm.Connection", item["connection"]),
            **{name: item[name] for name in _CASE_FIELDS},
        )
        messages = [
            CaseMessage(
                case=case,
                author=arrival.owner if message["by_owner"] else None,
                outbound=arrival.lookup("didcomm.OutboundMessage", message["outbound"]),
                inbound=arrival.lookup("didcomm.InboundMessage", message["inbound"]),
                read_at=_when(message["read_at"]),
                **{name: message[name] for name in _MESSAGE_FIELDS},
            )
            for message in item["messages"]
        ]
        made = CaseMessage.objects.bulk_create(messages)
        # created_at/updated_at are automatic (stamped now): the source's times back.
        for row, message in zip(made, item["messages"], strict=True):
            row.created_at = _when(message["created_at"])
        CaseMessage.objects.bulk_update(made, ["created_at"], batch_size=500)
        Case.objects.filter(pk=case.pk).update(
            created_at=_when(item["created_at"]), updated_at=_when(item["updated_at"])
        )


register(Part(name="support", export=export, restore=_restore, after=("twin", "didcomm"), what="support cases"))
