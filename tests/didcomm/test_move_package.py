"""The twin's agent in a move's package (didcomm.portability, part "didcomm"): everything it has goes in, and comes
back the same on the destination, keys sealed again there.

The destination is simulated in the same database: the agent is exported, deleted (the destination never had it),
and restored onto the twin, with SITE_URL naming the destination. Every field of every row is compared before and
after, except primary keys and what a move changes on purpose (an open invitation's link names the new endpoint;
a queued message's schedule starts afresh).
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from django.test import Client

from didcomm import outbox, portability, services
from didcomm.models import Agent, Connection, CredentialExchange, InboundMessage, OutboundMessage, RecipientKey
from didcomm.portability import agent_notifications
from owners.models import Notification
from ssi import didexchange, envelope, oob
from ssi.keys import SigningKey
from tests.didcomm.endpoints import verkey
from twins import portability as seam
from twins.portability import Arrival, PackageError

pytestmark = pytest.mark.django_db

SOURCE = "https://a.example"
DESTINATION = "https://b.example"
BASIC = "https://didcomm.org/basicmessage/1.0/message"
PROBLEM = "https://didcomm.org/report-problem/1.0/problem-report"
PING = "https://didcomm.org/trust_ping/1.0/ping"


def post(body: dict, to: str, sender: SigningKey):
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[to], from_key=sender)
    return Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)


def message(type_: str, **body) -> dict:
    return {"@type": type_, "@id": str(uuid.uuid4()), **body}


def _seed(sealed) -> str | None:
    from core.vault import unseal_key

    return base64.b64encode(unseal_key(sealed).seed).decode() if sealed else None


def _fields(model, *skip: str) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.name not in ("id", *skip)]


def snapshot(twin) -> dict:
    """Everything the twin's agent has, with rows named by what travels (keys, message ids), not by primary key."""
    agent = Agent.objects.get(twin=twin)
    by_pk = {c.pk: c.my_verkey for c in Connection.objects.filter(agent=agent)}
    inbound_ids = dict(InboundMessage.objects.filter(agent=agent).values_list("pk", "message_id"))

    def rows(qs, fields, **refs):
        out = []
        for obj in qs:
            row = {name: getattr(obj, name) for name in fields}
            for name, lookup in refs.items():
                row[name] = lookup(getattr(obj, name))
            out.append(row)
        return sorted(out, key=repr)

    connection_fields = _fields(Connection, "agent", "my_key_sealed", "next_key_sealed", "invitation_url")
    return {
        "agent": {"created_at": agent.created_at, "key_sealed": agent.key_sealed},
        "connections": sorted(
            [
                {
                    **{name: getattr(c, name) for name in connection_fields},
                    "my_key": _seed(c.my_key_sealed),
                    "next_key": _seed(c.next_key_sealed),
                }
                for c in Connection.objects.filter(agent=agent)
            ],
            key=repr,
        ),
        "recipient_keys": rows(
            RecipientKey.objects.filter(agent=agent), ["verkey", "connection_id"], connection_id=by_pk.get
        ),
        "inbound": rows(
            InboundMessage.objects.filter(agent=agent),
            _fields(InboundMessage, "agent"),
            connection_id=by_pk.get,
        ),
        "outbound": rows(
            OutboundMessage.objects.filter(agent=agent),
            _fields(OutboundMessage, "agent", "next_attempt_at", "claimed_until"),
            connection_id=by_pk.get,
            in_reply_to_id=inbound_ids.get,
        ),
        "credential_exchanges": rows(
            CredentialExchange.objects.filter(connection__agent=agent),
            _fields(CredentialExchange),
            connection_id=by_pk.get,
        ),
        "notifications": rows(agent_notifications(twin), _fields(Notification, "owner", "emailed_at")),
    }


@pytest.fixture
def busy_agent(grinder, alice, peer, settings):
    """The grinder's agent with one of everything, made on the source (SITE_URL names it)."""
    settings.SITE_URL = SOURCE
    agent = services.agent_for_twin(grinder)
    # A completed connection over DID Exchange 1.1 (did:peer:4 both sides), with a peer behind a mediator.
    connection = Connection(
        agent=agent,
        state=Connection.State.COMPLETED,
        protocol="1.1",
        thread_id=str(uuid.uuid4()),
        their_did=didexchange.peer4_did(peer.verify_key, "https://peer.example/"),
        their_verkey=verkey(peer),
        their_endpoint="https://peer.example/",
        their_routing_keys=[verkey(SigningKey.generate())],
        their_label="Peer",
    )
    from didcomm import exchange

    exchange.pairwise_did_create(connection=connection, protocol="1.1")
    connection.save()
    # Its messages: received (history, inbox) and sent (one delivered, one still queued, one a reply).
    assert post(message(BASIC, content="Hello grinder"), connection.my_verkey, peer).status_code == 200
    problem = message(PROBLEM, description={"code": "oops", "en": "Something broke"})
    assert post(problem, connection.my_verkey, peer).status_code == 200
    assert post(message(PING), connection.my_verkey, peer).status_code == 200  # its response: a reply
    delivered = outbox.basic_message_send(connection=connection, content="Sent before the move")
    OutboundMessage.objects.filter(pk=delivered.pk).update(status=OutboundMessage.Status.SENT, attempts=1)
    outbox.basic_message_send(connection=connection, content="Still queued at the move")
    OutboundMessage.objects.filter(pk__gt=delivered.pk).update(attempts=2, last_error="timed out")
    CredentialExchange.objects.create(connection=connection, thread_id=str(uuid.uuid4()), document='{"vc": 1}')
    # A second connection, rotating: its new key waits for the peer's ack.
    other_peer = SigningKey.generate()
    rotating = Connection(
        agent=agent,
        state=Connection.State.COMPLETED,
        protocol="1.1",
        their_did=didexchange.peer4_did(other_peer.verify_key, "https://other.example/"),
        their_verkey=verkey(other_peer),
        their_endpoint="https://other.example/",
        their_label="Other",
    )
    exchange.pairwise_did_create(connection=rotating, protocol="1.1")
    rotating.save()
    outbox.connection_rotate(connection=rotating)
    # An open invitation (the agent's own key), and an abandoned exchange.
    invitation = outbox.invitation_create(agent=agent)
    Connection.objects.create(agent=agent, state=Connection.State.ABANDONED, error="refused", my_verkey="x" * 44)
    assert InboundMessage.objects.filter(agent=agent).count() == 3
    assert agent_notifications(grinder).count() == 2
    return {"agent": agent, "connection": connection, "rotating": rotating, "invitation": invitation}


def destination(twin, settings) -> None:
    """Now the destination: it never had the agent, and SITE_URL names it."""
    Agent.objects.filter(twin=twin).delete()
    agent_notifications(twin).delete()
    settings.SITE_URL = DESTINATION


def restore_here(twin, owner, data) -> Arrival:
    """The part restores the package's data (through JSON, as it travels)."""
    arrival = Arrival(owner=owner, source_url=SOURCE, destination_url=DESTINATION, twin=twin)
    portability.restore(json.loads(json.dumps(data)), arrival)
    return arrival


def move_here(twin, owner, data, settings) -> Arrival:
    destination(twin, settings)
    return restore_here(twin, owner, data)


def test_the_part_is_named_didcomm_and_restored_after_the_twin():
    names = [part.name for part in seam.parts()]
    assert "didcomm" in names
    part = next(part for part in seam.parts() if part.name == "didcomm")
    assert part.after == ("twin",)
    assert names.index("twin") < names.index("didcomm")


def test_a_twin_without_an_agent_has_nothing_in_the_package(grinder):
    assert portability.export(grinder) is None


def test_everything_the_agent_has_comes_back_the_same(busy_agent, grinder, alice, settings):
    before = snapshot(grinder)
    data = portability.export(grinder)

    move_here(grinder, alice, data, settings)

    after = snapshot(grinder)
    assert after == before
    assert len(after["connections"]) == 4 and len(after["inbound"]) == 3 and len(after["outbound"]) == 4
    assert any(row["in_reply_to_id"] for row in after["outbound"])


def test_pairwise_keys_travel_unsealed_and_are_sealed_again_here(busy_agent, grinder, alice, settings):
    connection = busy_agent["connection"]
    sealed_there = bytes(connection.my_key_sealed)
    data = portability.export(grinder)
    travelling = next(row for row in data["connections"] if row["my_verkey"] == connection.my_verkey)
    assert travelling["my_key"] == _seed(sealed_there)  # the seed itself: the package is secret as a whole
    assert "sealed" not in json.dumps(data)

    arrival = move_here(grinder, alice, data, settings)

    here = arrival.lookup("didcomm.Connection", connection.pk)
    assert bytes(here.my_key_sealed) != base64.b64decode(travelling["my_key"])  # sealed, not stored as it came
    assert _seed(here.my_key_sealed) == travelling["my_key"]
    rotating = arrival.lookup("didcomm.Connection", busy_agent["rotating"].pk)
    assert rotating.next_verkey and _seed(rotating.next_key_sealed)


def test_the_restored_connection_takes_the_peers_next_message(busy_agent, grinder, alice, peer, settings):
    connection = busy_agent["connection"]
    arrival = move_here(grinder, alice, portability.export(grinder), settings)
    here = arrival.lookup("didcomm.Connection", connection.pk)

    body = message(BASIC, content="Are you still there?")
    assert post(body, here.my_verkey, peer).status_code == 200

    assert InboundMessage.objects.get(message_id=body["@id"]).connection == here


def test_an_open_invitation_names_this_instance_and_keeps_its_id_and_key(busy_agent, grinder, alice, settings):
    invitation = busy_agent["invitation"]
    there = oob.parse_url(invitation.invitation_url)
    assert there.services[0].service_endpoint == f"{SOURCE}/didcomm/"

    arrival = move_here(grinder, alice, portability.export(grinder), settings)

    here = oob.parse_url(arrival.lookup("didcomm.Connection", invitation.pk).invitation_url)
    assert here.services[0].service_endpoint == f"{DESTINATION}/didcomm/"
    assert here.id == there.id and here.services[0].recipient_keys == there.services[0].recipient_keys
    assert arrival.lookup("didcomm.Connection", invitation.pk).invitation_url.startswith(f"{DESTINATION}/didcomm/?oob=")


def test_other_parts_find_connections_and_messages_by_their_source_ids(busy_agent, grinder, alice, settings):
    connection = busy_agent["connection"]
    inbound = list(InboundMessage.objects.filter(connection=connection).values_list("pk", "message_id"))
    outbound = list(OutboundMessage.objects.filter(connection=connection).values_list("pk", "message_id"))

    arrival = move_here(grinder, alice, portability.export(grinder), settings)

    assert arrival.lookup("didcomm.Connection", connection.pk).my_verkey == connection.my_verkey
    for old_pk, message_id in inbound:
        assert arrival.lookup("didcomm.InboundMessage", old_pk).message_id == message_id
        assert arrival.lookup("history.message", old_pk).message_id == message_id  # the history's ref_id
    for old_pk, message_id in outbound:
        assert arrival.lookup("didcomm.OutboundMessage", old_pk).message_id == message_id


def test_the_inbox_items_go_to_the_owner_here_and_are_not_emailed_again(busy_agent, grinder, alice, bob, settings):
    move_here(grinder, bob, portability.export(grinder), settings)
    items = Notification.objects.filter(twin=grinder)  # one database: the twin row is still alice's
    assert items.count() == 2
    assert {item.owner for item in items} == {bob}
    assert all(item.emailed_at is not None for item in items)


def test_a_key_that_is_not_the_one_named_is_refused_and_nothing_is_written(busy_agent, grinder, alice, settings):
    data = portability.export(grinder)
    data["connections"][0]["my_key"] = base64.b64encode(SigningKey.generate().seed).decode()
    destination(grinder, settings)
    with pytest.raises(PackageError, match="not the key it names"):
        with_rollback(lambda: restore_here(grinder, alice, data))
    assert not Agent.objects.filter(twin=grinder).exists()
    assert not RecipientKey.objects.exists()


def test_a_key_in_use_by_another_agent_here_is_refused(busy_agent, grinder, alice, bob, settings):
    from twins import services as twin_services

    data = portability.export(grinder)
    kettle = twin_services.twin_create(owner=bob, name="Kettle")
    taken = data["connections"][0]["my_verkey"]
    destination(grinder, settings)
    RecipientKey.objects.create(agent=services.agent_for_twin(kettle), verkey=taken)
    with pytest.raises(PackageError, match="already in use"):
        with_rollback(lambda: restore_here(grinder, alice, data))
    assert RecipientKey.objects.get(verkey=taken).agent.twin == kettle
    assert not Agent.objects.filter(twin=grinder).exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data["connections"][0].pop("their_verkey"),
        lambda data: data["inbound"][0].update(received_at="yesterday"),
        lambda data: data["outbound"][0].update(connection=999999),
        lambda data: data.update(connections="all of them"),
    ],
    ids=["missing field", "bad time", "unknown connection", "not a list"],
)
def test_a_damaged_agent_is_refused_with_a_reason(busy_agent, grinder, alice, settings, damage):
    data = portability.export(grinder)
    damage(data)
    destination(grinder, settings)
    with pytest.raises(PackageError):
        with_rollback(lambda: restore_here(grinder, alice, data))
    assert not Agent.objects.filter(twin=grinder).exists()


def with_rollback(restore) -> None:
    """As twin_unpack runs a part: inside the restore's transaction, which a PackageError rolls back."""
    from django.db import transaction

    with transaction.atomic():
        restore()


def test_waiting_messages_go_only_to_their_connections_peer_and_at_most_max_held(busy_agent, grinder, alice, settings):
    data = portability.export(grinder)
    queued = [row for row in data["outbound"] if row["status"] == OutboundMessage.Status.QUEUED]
    genuine = next(row for row in queued if row["type"].endswith("basicmessage/1.0/message"))
    elsewhere = dict(genuine, message_id=str(uuid.uuid4()), to_endpoint="https://victim.example/any/path")
    cannon = [
        dict(genuine, message_id=str(uuid.uuid4()), connection=None if n % 2 else genuine["connection"])
        for n in range(2 * portability.MAX_HELD + 10)
    ]
    data["outbound"] += [elsewhere, *cannon]
    move_here(grinder, alice, data, settings)
    waiting = OutboundMessage.objects.filter(agent__twin=grinder, status=OutboundMessage.Status.QUEUED)
    assert waiting.count() == portability.MAX_HELD
    assert not waiting.filter(to_endpoint="https://victim.example/any/path").exists()
    assert not waiting.filter(connection=None).exists()
    kept = OutboundMessage.objects.filter(agent__twin=grinder, last_error__startswith="not sent after the move")
    assert kept.count() == len(queued) + 1 + len(cannon) - portability.MAX_HELD
    assert not kept.exclude(status=OutboundMessage.Status.FAILED).exists()
