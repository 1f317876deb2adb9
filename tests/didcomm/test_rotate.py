"""RFC 0794 DID Rotate through POST /didcomm/: ours (the old key keeps working until the peer's ack, then opens
nothing) and the peer's (accepted only from the connection's peer, for a DID we can use; acked on the old DID).
After a twin transfer commits, the twin's completed connections rotate.

Nothing is delivered (on-commit callbacks do not run in these tests): what we send is read from the queue.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from didcomm import keys, outbox, rotate, services
from didcomm.models import Connection, InboundMessage, OutboundMessage, RecipientKey
from didcomm.transport import pack_outbound
from ssi import didexchange, didpeer, envelope
from ssi.keys import SigningKey
from ssi.multibase import b58encode

pytestmark = pytest.mark.django_db

PEER_ENDPOINT = "http://127.0.0.1:9/peer"
NEW_PEER_ENDPOINT = "http://127.0.0.1:9/peer-moved"
PREFIX = "https://didcomm.org/"


def verkey(key: SigningKey) -> str:
    return b58encode(key.verify_key.raw)


def message(type_: str, **body) -> dict:
    return {"@type": PREFIX + type_, "@id": str(uuid.uuid4()), **body}


def post(body: dict, to: str, sender: SigningKey | None):
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[to], from_key=sender)
    return Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)


def send(body: dict, to: str, sender: SigningKey | None) -> InboundMessage:
    response = post(body, to, sender)
    assert response.status_code == 200, response.content
    return InboundMessage.objects.get(message_id=body["@id"], sender_verkey=verkey(sender) if sender else "")


def opens(verkey_: str) -> bool:
    """Whether an envelope to this key is opened at our endpoint: a stranger's ping to a key of ours is opened,
    then refused for coming from no connection's peer."""
    ping = message("trust_ping/1.0/ping", response_requested=False)
    response = post(ping, verkey_, SigningKey.generate())
    assert response.status_code == 400
    if "no recipient key" in response.json()["message"]:
        return False
    assert "no connection with this sender" in response.json()["message"]
    return True


def refused(body: dict, to: str, sender: SigningKey | None) -> None:
    """Not from the connection's peer: refused (400) and stored nowhere, so nothing is answered either."""
    response = post(body, to, sender)
    assert response.status_code == 400, response.content
    assert "no connection with this sender" in response.json()["message"]
    assert not InboundMessage.objects.filter(message_id=body["@id"]).exists()


@pytest.fixture
def connection(grinder, peer) -> Connection:
    """A completed connection of the twin's agent with a peer, over our pairwise key and did:peer:4."""
    connection = Connection(
        agent=services.agent_for_twin(grinder),
        state=Connection.State.COMPLETED,
        protocol="1.1",
        their_did=didexchange.peer4_did(peer.verify_key, PEER_ENDPOINT),
        their_verkey=verkey(peer),
        their_endpoint=PEER_ENDPOINT,
        their_label="Peer agent",
    )
    key = keys.pairwise_key_create(connection=connection)
    connection.my_did = didexchange.peer4_did(key.verify_key, keys.endpoint_url())
    connection.save()
    return connection


def state_of(connection: Connection) -> tuple:
    connection.refresh_from_db()
    return (
        connection.state,
        connection.my_did,
        connection.my_verkey,
        connection.their_did,
        connection.their_verkey,
        connection.their_endpoint,
    )


# -- ours -------------------------------------------------------------------------------------------------------------


def test_rotating_sends_a_rotate_from_the_old_key_naming_a_new_peer4(connection, peer):
    old_verkey, old_did = connection.my_verkey, connection.my_did
    sent = outbox.connection_rotate(connection=connection)

    assert sent.type == PREFIX + "did-rotate/1.0/rotate"
    assert sent.to_verkey == verkey(peer)
    connection.refresh_from_db()
    assert (connection.my_verkey, connection.my_did) == (old_verkey, old_did)  # unchanged until the ack
    assert connection.next_did == sent.body["to_did"] and connection.next_thread_id == sent.message_id
    assert didexchange.resolve_did(sent.body["to_did"]).recipient_verkey == connection.next_verkey
    # Packed with the old key: the peer knows the connection by it.
    unpacked = envelope.unpack(pack_outbound(sent), my_keys={verkey(peer): peer})
    assert unpacked.sender_verkey == old_verkey


@pytest.mark.parametrize("ack_to", ["old", "new"])
def test_both_keys_open_until_the_ack_then_only_the_new_one(connection, peer, ack_to):
    """RFC 0794: the rotating party receives on the existing and the new DID at least until the ack."""
    old_verkey = connection.my_verkey
    sent = outbox.connection_rotate(connection=connection)
    connection.refresh_from_db()
    new_verkey, new_did = connection.next_verkey, connection.next_did
    assert opens(old_verkey) and opens(new_verkey)

    ack = message("did-rotate/1.0/ack", status="OK", **{"~thread": {"thid": sent.message_id}})
    send(ack, old_verkey if ack_to == "old" else new_verkey, peer)

    connection.refresh_from_db()
    assert (connection.my_verkey, connection.my_did) == (new_verkey, new_did)
    assert not connection.next_verkey and not connection.next_did and connection.next_key_sealed is None
    assert verkey(keys.connection_key(connection)) == new_verkey  # and we now send from it
    assert not opens(old_verkey)
    assert opens(new_verkey)
    assert not RecipientKey.objects.filter(verkey=old_verkey).exists()


@pytest.mark.parametrize("who", ["stranger", "wrong thread"])
def test_an_ack_from_a_stranger_or_on_another_thread_switches_nothing(connection, peer, who):
    sent = outbox.connection_rotate(connection=connection)
    before = state_of(connection)
    thid = "another-rotation" if who == "wrong thread" else sent.message_id
    ack = message("did-rotate/1.0/ack", status="OK", **{"~thread": {"thid": thid}})
    if who == "stranger":
        refused(ack, connection.my_verkey, SigningKey.generate())
    else:
        send(ack, connection.my_verkey, peer)
    assert state_of(connection) == before
    assert connection.next_verkey  # still waiting


def test_the_peers_problem_report_drops_our_rotation_and_the_old_key_stays(connection, peer):
    sent = outbox.connection_rotate(connection=connection)
    connection.refresh_from_db()
    old_verkey, pending = connection.my_verkey, connection.next_verkey
    report = message(
        "did-rotate/1.0/problem-report",
        description={"code": "e.did.unresolvable", "en": "Unable to resolve DID"},
        problem_items=[{"did": sent.body["to_did"]}],
        **{"~thread": {"thid": sent.message_id}},
    )
    send(report, old_verkey, peer)
    connection.refresh_from_db()
    assert connection.my_verkey == old_verkey and not connection.next_verkey
    assert opens(old_verkey) and not opens(pending)


def test_a_connection_rotates_once_at_a_time_and_only_when_completed(connection, grinder):
    outbox.connection_rotate(connection=connection)
    with pytest.raises(rotate.RotateError, match="already waiting"):
        outbox.connection_rotate(connection=connection)
    pending = outbox.invitation_create(agent=services.agent_for_twin(grinder))
    with pytest.raises(rotate.RotateError, match="only a completed connection"):
        outbox.connection_rotate(connection=pending)


def test_a_twin_transfer_rotates_its_completed_connections_once_committed(
    connection, grinder, alice, bob, django_capture_on_commit_callbacks
):
    from twins.transfer import offer_accept, offer_create

    invited = outbox.invitation_create(agent=services.agent_for_twin(grinder))
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    with django_capture_on_commit_callbacks() as callbacks:
        offer_accept(offer=offer, buyer=bob)
    connection.refresh_from_db()
    assert not connection.next_verkey  # nothing before the transfer commits
    for callback in callbacks:
        callback()
    connection.refresh_from_db()
    assert connection.next_verkey and connection.next_did
    assert OutboundMessage.objects.filter(connection=connection, type=PREFIX + "did-rotate/1.0/rotate").count() == 1
    invited.refresh_from_db()
    assert not invited.next_verkey  # only completed connections rotate


# -- theirs -----------------------------------------------------------------------------------------------------------


def test_a_rotate_from_the_peer_moves_the_connection_and_is_acked_on_the_old_did(connection, peer):
    new_key = SigningKey.generate()
    new_did = didexchange.peer4_did(new_key.verify_key, NEW_PEER_ENDPOINT)
    inbound = send(message("did-rotate/1.0/rotate", to_did=new_did), connection.my_verkey, peer)

    connection.refresh_from_db()
    assert connection.their_did == new_did
    assert connection.their_verkey == verkey(new_key)
    assert connection.their_endpoint == NEW_PEER_ENDPOINT
    ack = inbound.replies.get()
    assert ack.type == PREFIX + "did-rotate/1.0/ack"
    assert ack.body["~thread"] == {"thid": inbound.message_id}
    assert ack.to_verkey == verkey(peer)  # RFC 0794: "still sent to the prior DID"
    # From now on the peer is its new key.
    ping = send(message("trust_ping/1.0/ping"), connection.my_verkey, new_key)
    assert ping.replies.get().to_verkey == verkey(new_key)


@pytest.mark.parametrize("sender", ["stranger", "anonymous"])
def test_a_rotate_not_from_the_peer_is_refused_and_the_connection_keeps_its_did(connection, sender):
    """SECURITY 13: a rotation is taken only from a key the prior DID authorises (Authcrypt, the peer's key)."""
    before = state_of(connection)
    attacker = SigningKey.generate()
    to_did = didexchange.peer4_did(attacker.verify_key, "http://127.0.0.1:9/attacker")
    refused(
        message("did-rotate/1.0/rotate", to_did=to_did),
        connection.my_verkey,
        attacker if sender == "stranger" else None,
    )
    assert state_of(connection) == before
    assert not OutboundMessage.objects.exists()  # nothing to the peer, nor to whoever sent it


def _peer4_without_service() -> str:
    key = SigningKey.generate()
    return didpeer.peer4(
        {"verificationMethod": [{"id": "#key-0", "type": "Multikey", "publicKeyMultibase": key.multibase}]}
    )


@pytest.mark.parametrize(
    ("to_did", "code"),
    [
        ("did:web:example.org", "e.did.method_unsupported"),
        (None, "e.did.method_unsupported"),
        ("did:peer:4zQmBroken:zAlsoBroken", "e.did.unresolvable"),
        (_peer4_without_service(), "e.did.doc_unsupported"),
    ],
)
def test_a_rotate_to_a_did_we_cannot_use_gets_a_problem_report_and_changes_nothing(connection, peer, to_did, code):
    before = state_of(connection)
    inbound = send(message("did-rotate/1.0/rotate", to_did=to_did), connection.my_verkey, peer)
    assert state_of(connection) == before
    report = inbound.replies.get()
    assert report.type == PREFIX + "did-rotate/1.0/problem-report"
    assert report.body["description"]["code"] == code
    assert report.body["~thread"] == {"thid": inbound.message_id, "pthid": inbound.message_id}
    assert report.body["problem_items"] == [{"did": to_did or ""}]
    assert report.to_verkey == verkey(peer)


def test_a_rotate_on_a_connection_not_completed_is_refused(connection, peer):
    Connection.objects.filter(pk=connection.pk).update(state=Connection.State.RESPONDED)
    before = state_of(connection)
    to_did = didexchange.peer4_did(SigningKey.generate().verify_key, NEW_PEER_ENDPOINT)
    inbound = send(message("did-rotate/1.0/rotate", to_did=to_did), connection.my_verkey, peer)
    assert state_of(connection) == before
    assert inbound.replies.get().type == PREFIX + "did-rotate/1.0/problem-report"


def test_the_peers_hangup_ends_the_connection_and_a_strangers_does_not(connection, peer):
    refused(message("did-rotate/1.0/hangup"), connection.my_verkey, SigningKey.generate())
    connection.refresh_from_db()
    assert connection.state == Connection.State.COMPLETED

    send(message("did-rotate/1.0/hangup"), connection.my_verkey, peer)
    connection.refresh_from_db()
    assert connection.state == Connection.State.ABANDONED and "hung up" in connection.error
    assert not opens(connection.my_verkey)
