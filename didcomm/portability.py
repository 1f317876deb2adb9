"""The twin's DIDComm agent in a move to another instance (issue 18): its share of the package (twins.portability).

Part ``"didcomm"``, restored after the twin (it hangs off it): everything the twin's agent has.

- Connections, each with its state, DIDs, the peer's key, endpoint and routing keys, and our pairwise key, which
  travels UNSEALED (base64 of its seed; the package is secret as a whole) and is sealed again here under this
  instance's key. A rotation of ours still waiting for the peer's ack travels with its new key too.
- Open invitations (connections nobody answered yet): their link names this instance's endpoint on arrival, so
  the invitation a page shows here works here; a copy someone already holds names the old instance, whose agent
  refuses it (didcomm.inbound, the twin having moved).
- The recipient keys inbound envelopes find the agent by (the agent's own and each pairwise key).
- Every message received and sent since the owner has the thing (the Connections pages' activity, and the signed
  history's entries point at the received ones; a seller's, before ``owner_since``, are hers and stay, as those
  pages hide them), those still queued included: they wait until the twin has arrived, then go out
  (didcomm.moving). The package is built when the owner confirms the move and the source stays live until the
  destination holds the twin, so one the source delivered meanwhile goes out twice, with the same ``@id``
  (receivers dedupe on it, SECURITY 14; what the source receives meanwhile stays there). Credential exchanges
  under way, and the owner's inbox items about the agent's messages.

Primary keys do not carry over. The part remembers what it made under the source's primary key, for the parts that
point at it: ``"didcomm.Connection"`` (sharing, support), ``"didcomm.InboundMessage"`` and
``"didcomm.OutboundMessage"`` (support), ``"history.message"`` (the history entries of received messages).

A key that is already in use on this instance is refused (the package is not restored).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import DatabaseError, models
from django.utils.dateparse import parse_datetime

from core.vault import seal_key, unseal_key
from didcomm import keys
from didcomm.models import Agent, Connection, CredentialExchange, InboundMessage, OutboundMessage, RecipientKey
from didcomm.selectors import current_owners_messages
from didcomm.timeline import PROBLEM_TITLE
from owners.models import Notification
from ssi import oob
from ssi.errors import SSIError
from ssi.keys import SigningKey
from ssi.vault import VaultError
from twins.models import Twin
from twins.portability import Arrival, PackageError, Part, register

PART = "didcomm"
BATCH = 1000

CONNECTION_FIELDS = (
    "role",
    "state",
    "protocol",
    "thread_id",
    "my_did",
    "my_verkey",
    "their_routing_keys",
    "error",
    "invitation_id",
    "invitation_url",
    "their_label",
    "their_did",
    "their_verkey",
    "their_endpoint",
    "last_ping_at",
    "last_rtt_ms",
    "next_verkey",
    "next_did",
    "next_thread_id",
    "created_at",
    "updated_at",
)
INBOUND_FIELDS = ("sender_verkey", "message_id", "type", "body", "received_at")
# The most messages still waiting to be sent that a package brings to be sent from here (review finding 16).
MAX_HELD = 100
OUTBOUND_FIELDS = (
    "to_verkey",
    "to_endpoint",
    "to_routing_keys",
    "message_id",
    "type",
    "body",
    "status",
    "attempts",
    "sent_at",
    "last_error",
    "created_at",
)
CREDENTIAL_EXCHANGE_FIELDS = ("thread_id", "document", "state", "error", "created_at", "updated_at")
NOTIFICATION_FIELDS = ("kind", "title", "body", "sender_name", "read_at", "created_at", "updated_at")


# -- plain values -----------------------------------------------------------------------------------------------


def _out(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _row(obj: models.Model, fields: Iterable[str], **more: Any) -> dict[str, Any]:
    return {**{name: _out(getattr(obj, name)) for name in fields}, **more}


def _values(model: type[models.Model], row: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The model's field values from a package row (times parsed); a row that lacks one is refused."""
    if not isinstance(row, dict):
        raise PackageError(f"the agent's {model._meta.verbose_name_plural} are not a list of objects")
    values: dict[str, Any] = {}
    for name in fields:
        if name not in row:
            raise PackageError(f"a {model._meta.verbose_name} of the agent has no {name}")
        value = row[name]
        if isinstance(model._meta.get_field(name), models.DateTimeField) and value is not None:
            parsed = parse_datetime(value) if isinstance(value, str) else None
            if parsed is None:
                raise PackageError(f"a {model._meta.verbose_name} of the agent has a {name} that is not a time")
            value = parsed
        values[name] = value
    return values


def _seed(key_sealed: bytes | memoryview | None) -> str | None:
    return base64.b64encode(unseal_key(key_sealed).seed).decode() if key_sealed else None


def _sealed(text: Any, verkey: str, what: str) -> bytes | None:
    """The package's unsealed key, sealed under this instance's key; it must be the key ``verkey`` names."""
    if text is None:
        return None
    try:
        key = SigningKey.from_seed(base64.b64decode(text, validate=True))
    except (TypeError, ValueError, binascii.Error, SSIError):
        raise PackageError(f"a connection's {what} is not a key") from None
    if keys.verkey_of(key) != verkey:
        raise PackageError(f"a connection's {what} is not the key it names")
    return seal_key(key)


def _list(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise PackageError(f"the agent's {name} are not a list")
    return value


def _keep_times(model: type[models.Model], rows: list[models.Model], times: list[dict[str, Any]]) -> None:
    """Put back the source's times on rows just inserted (auto_now fields are set on insert; bulk_update, unlike
    save, leaves them as given)."""
    if not rows:
        return
    names = list(times[0])
    for row, given in zip(rows, times, strict=True):
        for name, value in given.items():
            setattr(row, name, value)
    model.objects.bulk_update(rows, names, batch_size=BATCH)


# -- export -----------------------------------------------------------------------------------------------------


def export(twin: Twin) -> dict[str, Any] | None:
    """The twin's agent as plain JSON (None if it never had one). Secret: pairwise keys are in it unsealed."""
    agent = Agent.objects.filter(twin=twin).first()
    if agent is None:
        return None
    connections = Connection.objects.filter(agent=agent).order_by("id")
    # The current owner's time only: messages from before the sale were the seller's conversations, which the
    # buyer's pages never show (the same cut, didcomm.selectors) and a buyer's move does not carry.
    inbound, outbound = current_owners_messages(
        InboundMessage.objects.filter(agent=agent), OutboundMessage.objects.filter(agent=agent), twin
    )
    return {
        "created_at": _out(agent.created_at),
        "connections": [
            _row(c, CONNECTION_FIELDS, id=c.pk, my_key=_seed(c.my_key_sealed), next_key=_seed(c.next_key_sealed))
            for c in connections
        ],
        "recipient_keys": [
            {"verkey": r.verkey, "connection": r.connection_id}
            for r in RecipientKey.objects.filter(agent=agent).order_by("id")
        ],
        "inbound": [
            _row(m, INBOUND_FIELDS, id=m.pk, connection=m.connection_id)
            for m in inbound.order_by("id").iterator(chunk_size=BATCH)
        ],
        "outbound": [
            _row(m, OUTBOUND_FIELDS, id=m.pk, connection=m.connection_id, in_reply_to=m.in_reply_to_id)
            for m in outbound.order_by("id").iterator(chunk_size=BATCH)
        ],
        "credential_exchanges": [
            _row(x, CREDENTIAL_EXCHANGE_FIELDS, connection=x.connection_id)
            for x in CredentialExchange.objects.filter(connection__agent=agent).order_by("id")
        ],
        "notifications": [
            _row(n, NOTIFICATION_FIELDS) for n in agent_notifications(twin).order_by("id").iterator(chunk_size=BATCH)
        ],
    }


def agent_notifications(twin: Twin) -> models.QuerySet[Notification]:
    """The owner's inbox items the twin's agent made (didcomm.timeline): messages, and peers' problem reports. The
    current owner's only (review finding 10): a sale leaves the seller's items about the thing in her inbox, hers;
    a buyer's move must not carry them (with their bodies) into the arriving owner's inbox."""
    return Notification.objects.filter(twin=twin, owner_id=twin.owner_id).filter(
        models.Q(kind=Notification.Kind.AGENT)
        | models.Q(kind=Notification.Kind.SYSTEM, title__startswith=PROBLEM_TITLE)
    )


# -- restore ----------------------------------------------------------------------------------------------------


def _invitation_here(url: str) -> str:
    """An open invitation's link, naming this instance's endpoint instead of the source's (same @id and key)."""
    if not url:
        return url
    try:
        message = dict(oob.parse_url(url).message)
    except oob.OOBError:
        return url  # not ours to mend: kept as it was
    services = message.get("services")
    if isinstance(services, list):
        message["services"] = [
            {**service, "serviceEndpoint": keys.endpoint_url()} if isinstance(service, dict) else service
            for service in services
        ]
    return oob.invitation_url(message, keys.endpoint_url())


def _free(verkeys: list[str]) -> None:
    """A key of the arriving agent must not open envelopes for another agent here. (A twin coming back to an
    instance it moved away from finds no keys of its own here: the copy it left behind gave way, with its agent,
    when the twin part was restored: twins.parts.)"""
    if RecipientKey.objects.filter(verkey__in=verkeys).exists():
        raise PackageError("a key of the thing's agent is already in use on this instance")


def _holds(agent: Agent, connection: Connection | None, verkey: Any) -> bool:
    """Whether the arriving agent holds the private half of a recipient key the package lists: its own key, or a
    restored connection's pairwise key or pending new one (whose seeds :func:`_sealed` checked). Any other row is
    left out: it would open nothing for this agent (a key rotated away, a transferred twin's former agent key),
    and a package must not make another agent's key (public in its twin's DID document) point here, where that
    agent's invitations would then reach nobody (review finding 2)."""
    if not isinstance(verkey, str) or not verkey:
        return False
    own = keys.verkey_of(keys.agent_key_of(agent))
    if connection is None:
        return verkey == own
    # A connection that came without its private key (one made before pairwise keys uses the agent's own) holds
    # only the agent's key: its my_verkey is the package's word, which may name another agent's key.
    if verkey == connection.my_verkey:
        return connection.my_key_sealed is not None or verkey == own
    return verkey == connection.next_verkey and connection.next_key_sealed is not None


def _connection(agent: Agent, row: Any) -> Connection:
    values = _values(Connection, row, CONNECTION_FIELDS)
    if not isinstance(row.get("id"), int):
        raise PackageError("a connection of the agent has no id")
    values["my_key_sealed"] = _sealed(row.get("my_key"), values["my_verkey"], "pairwise key")
    values["next_key_sealed"] = _sealed(row.get("next_key"), values["next_verkey"], "next pairwise key")
    if values["state"] == Connection.State.INVITED:
        values["invitation_url"] = _invitation_here(values["invitation_url"])
    times = {name: values.pop(name) for name in ("created_at", "updated_at")}
    connection = Connection.objects.create(agent=agent, **values)
    Connection.objects.filter(pk=connection.pk).update(**times)
    return connection


def restore(data: Any, arrival: Arrival) -> None:
    """Restore the agent for ``arrival.twin`` (see the module docstring); PackageError for what it cannot take."""
    if not isinstance(data, dict):
        raise PackageError("the thing's agent is not an object")
    try:
        _restore(data, arrival)
    except (KeyError, TypeError, ValueError, VaultError, DatabaseError) as exc:
        if isinstance(exc, PackageError):
            raise
        raise PackageError(f"the thing's agent cannot be restored here: {type(exc).__name__}") from None


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    twin = arrival.twin
    agent = Agent.objects.create(twin=twin)
    if data.get("created_at"):
        Agent.objects.filter(pk=agent.pk).update(**_values(Agent, data, ("created_at",)))

    connections: dict[int, Connection] = {}
    for row in _list(data, "connections"):
        connection = _connection(agent, row)
        connections[row["id"]] = connection
        arrival.remember("didcomm.Connection", row["id"], connection)

    def connection_of(row: dict[str, Any]) -> Connection | None:
        old = row.get("connection")
        if old is None:
            return None
        if old not in connections:
            raise PackageError("a record of the agent names a connection the package does not have")
        return connections[old]

    key_rows = [row for row in _list(data, "recipient_keys") if _holds(agent, connection_of(row), row["verkey"])]
    verkeys = [row["verkey"] for row in key_rows]
    _free(verkeys)
    RecipientKey.objects.bulk_create(
        [RecipientKey(agent=agent, connection=connection_of(row), verkey=row["verkey"]) for row in key_rows],
        batch_size=BATCH,
    )

    inbound_rows = _list(data, "inbound")
    inbound, times = [], []
    for row in inbound_rows:
        values = _values(InboundMessage, row, INBOUND_FIELDS)
        times.append({"received_at": values.pop("received_at")})
        inbound.append(InboundMessage(agent=agent, connection=connection_of(row), **values))
    InboundMessage.objects.bulk_create(inbound, batch_size=BATCH)
    _keep_times(InboundMessage, inbound, times)
    received: dict[int, InboundMessage] = {}
    for row, message in zip(inbound_rows, inbound, strict=True):
        received[row["id"]] = message
        arrival.remember("didcomm.InboundMessage", row["id"], message)
        arrival.remember("history.message", row["id"], message)

    outbound_rows = _list(data, "outbound")
    outbound, times = [], []
    held = 0
    for row in outbound_rows:
        values = _values(OutboundMessage, row, OUTBOUND_FIELDS)
        times.append({"created_at": values.pop("created_at")})
        reply_to = row.get("in_reply_to")
        connection = connection_of(row)
        if values.get("status") == OutboundMessage.Status.QUEUED:
            # What this host will send once the thing is live: only to a restored connection's own peer (the
            # row's address and key are the package's word: they must be the connection's), and at most MAX_HELD
            # messages; the rest is kept as not sent. Otherwise a package could make this host deliver any number
            # of messages anywhere (review finding 16).
            reason = ""
            if connection is None:
                reason = "no connection"
            elif values.get("to_endpoint", "") not in ("", connection.their_endpoint) or values.get(
                "to_verkey", ""
            ) not in ("", connection.their_verkey):
                reason = "not addressed to its connection's peer"
            elif held >= MAX_HELD:
                reason = f"more than {MAX_HELD} were waiting"
            if reason:
                values.update(status=OutboundMessage.Status.FAILED, last_error=f"not sent after the move: {reason}")
            else:
                held += 1
        outbound.append(
            # Not yet delivered: no claim, due at once; the transport holds it until the twin has arrived.
            OutboundMessage(agent=agent, connection=connection, in_reply_to=received.get(reply_to), **values)
        )
    OutboundMessage.objects.bulk_create(outbound, batch_size=BATCH)
    _keep_times(OutboundMessage, outbound, times)
    for row, message in zip(outbound_rows, outbound, strict=True):
        arrival.remember("didcomm.OutboundMessage", row["id"], message)

    exchanges, times = [], []
    for row in _list(data, "credential_exchanges"):
        values = _values(CredentialExchange, row, CREDENTIAL_EXCHANGE_FIELDS)
        times.append({name: values.pop(name) for name in ("created_at", "updated_at")})
        connection = connection_of(row)
        if connection is None:
            raise PackageError("a credential exchange of the agent has no connection")
        exchanges.append(CredentialExchange(connection=connection, **values))
    CredentialExchange.objects.bulk_create(exchanges, batch_size=BATCH)
    _keep_times(CredentialExchange, exchanges, times)

    notifications, times = [], []
    # A thing coming back to a host it left: the inbox items its copy had here stayed, each its account's
    # (twins.portability.give_way), and the package brings the owner's again: those are not added twice.
    kept = set(Notification.objects.filter(owner=arrival.owner, twin=twin).values_list("kind", "title", "created_at"))
    for row in _list(data, "notifications"):
        values = _values(Notification, row, NOTIFICATION_FIELDS)
        if (values["kind"], values["title"], values["created_at"]) in kept:
            continue
        times.append({name: values.pop(name) for name in ("created_at", "updated_at")})
        # Already "emailed": the owner was told on the instance it came from.
        notifications.append(Notification(owner=arrival.owner, twin=twin, emailed_at=times[-1]["created_at"], **values))
    Notification.objects.bulk_create(notifications, batch_size=BATCH)
    _keep_times(Notification, notifications, times)


register(Part(PART, export, restore, after=("twin",), replaces=("didcomm.Agent",)))
