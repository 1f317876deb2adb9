"""Only a connection's peer writes into a twin's signed history and its owner's inbox. Outside a connection an
agent takes nothing but the handshake of one of its invitations: anything else is refused (400) and stored
nowhere. What a peer's message puts into the history is capped: a long text is kept there cut, with the hash
and length of the whole (the full message stays on the agent's Connections page)."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from django.test import Client

from didcomm import keys, outbox, services, timeline
from didcomm.models import Connection, InboundMessage, OutboundMessage
from owners.models import Notification
from ssi import didexchange, envelope
from ssi.bundle import verify_bundle
from ssi.keys import SigningKey
from tests.didcomm.endpoints import completed_connection, verkey
from twins.models import HistoryEntry
from twins.verification import export_bundle

pytestmark = pytest.mark.django_db

BASIC = "https://didcomm.org/basicmessage/1.0/message"
PING = "https://didcomm.org/trust_ping/1.0/ping"
PROBLEM = "https://didcomm.org/report-problem/1.0/problem-report"
REQUEST = "https://didcomm.org/didexchange/1.1/request"


def message(type_: str, **body) -> dict:
    return {"@type": type_, "@id": str(uuid.uuid4()), **body}


def send(body: dict, to: str, sender: SigningKey | None):
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[to], from_key=sender)
    return Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)


@pytest.fixture
def invitation(grinder) -> Connection:
    """One invitation issued: from then on the twin's agent key (in its DID document) opens envelopes."""
    return outbox.invitation_create(agent=services.agent_for_twin(grinder))


def history_size(twin) -> int:
    return HistoryEntry.objects.filter(twin=twin).count()


@pytest.mark.parametrize(
    "body",
    [
        message(BASIC, content="Buy cheap coffee now"),
        message(PING, response_requested=True),
        message(PROBLEM, description={"code": "spam", "en": "Buy cheap coffee now"}),
        message("https://didcomm.org/coffee/1.0/grind"),
    ],
    ids=["basic message", "ping", "problem report", "unknown type"],
)
@pytest.mark.parametrize("anonymous", [False, True], ids=["authcrypt", "anoncrypt"])
def test_a_stranger_writing_to_the_invitation_key_is_refused_and_nothing_is_recorded(
    grinder, invitation, body, anonymous
):
    before = history_size(grinder)
    response = send(body, invitation.my_verkey, None if anonymous else SigningKey.generate())
    assert response.status_code == 400
    assert "connection" in response.json()["message"]
    assert history_size(grinder) == before
    assert not Notification.objects.exists()
    assert not InboundMessage.objects.exists() and not OutboundMessage.objects.exists()


def test_sixty_strangers_messages_leave_the_history_and_the_inbox_as_they_were(grinder, invitation):
    before = history_size(grinder)
    stranger = SigningKey.generate()
    for n in range(60):
        send(message(BASIC, content=f"spam {n}"), invitation.my_verkey, stranger)
    assert history_size(grinder) == before
    assert not Notification.objects.exists()


def test_a_stranger_who_knows_a_pairwise_key_is_refused(grinder, peer):
    connection = completed_connection(twin=grinder, peer=peer, their_label="Peer", their_endpoint="http://127.0.0.1:9/")
    before = history_size(grinder)
    response = send(message(BASIC, content="I am your peer, honest"), connection.my_verkey, SigningKey.generate())
    assert response.status_code == 400
    assert history_size(grinder) == before
    assert not InboundMessage.objects.exists() and not Notification.objects.exists()


def test_a_request_naming_no_invitation_of_ours_is_refused_unrecorded(grinder, invitation):
    requester = SigningKey.generate()
    body = message(REQUEST, label="Stranger", did=didexchange.peer4_did(requester.verify_key, "http://127.0.0.1:9/"))
    body["~thread"] = {"thid": body["@id"], "pthid": str(uuid.uuid4())}
    response = send(body, invitation.my_verkey, requester)
    assert response.status_code == 400
    assert "invitation" in response.json()["message"]
    assert not InboundMessage.objects.exists()


def test_the_handshake_of_an_open_invitation_is_still_taken(grinder, invitation):
    requester = SigningKey.generate()
    body = message(REQUEST, label="Friend", did=didexchange.peer4_did(requester.verify_key, "http://127.0.0.1:9/"))
    body["~thread"] = {"thid": body["@id"], "pthid": invitation.invitation_id}
    assert send(body, invitation.my_verkey, requester).status_code == 200
    invitation.refresh_from_db()
    assert invitation.state == Connection.State.RESPONDED
    assert invitation.their_verkey == verkey(requester)


def test_the_peer_of_a_connection_is_still_heard(alice, grinder, peer):
    connection = completed_connection(twin=grinder, peer=peer, their_label="Peer", their_endpoint="http://127.0.0.1:9/")
    before = history_size(grinder)
    assert send(message(BASIC, content="hello"), connection.my_verkey, peer).status_code == 200
    assert history_size(grinder) == before + 1
    assert Notification.objects.filter(owner=alice).count() == 1


def test_a_huge_message_from_a_peer_enters_the_history_cut_with_the_hash_of_the_whole(grinder, peer):
    connection = completed_connection(twin=grinder, peer=peer, their_label="Peer", their_endpoint="http://127.0.0.1:9/")
    export_before = len(json.dumps(export_bundle(grinder)))
    content = "grind " * 116_000 + "é"  # 700 KB
    assert send(message(BASIC, content=content), connection.my_verkey, peer).status_code == 200
    entry = HistoryEntry.objects.filter(twin=grinder, kind=HistoryEntry.Kind.MESSAGE).get()
    recorded = entry.entry["content"]
    assert len(recorded["content"].encode()) <= timeline.HISTORY_TEXT_MAX_BYTES
    assert content.startswith(recorded["content"])
    assert recorded["content_sha256"] == hashlib.sha256(content.encode()).hexdigest()
    assert recorded["content_bytes"] == len(content.encode())
    assert len(json.dumps(export_bundle(grinder))) - export_before < 3 * timeline.HISTORY_TEXT_MAX_BYTES
    report = verify_bundle(json.dumps(export_bundle(grinder)))
    assert report.entries == HistoryEntry.objects.filter(twin=grinder).count()
    # The whole text stays with the agent, for its owner to read.
    assert InboundMessage.objects.get().body["content"] == content


def test_a_text_is_cut_on_a_character_boundary():
    cut = timeline.history_text("é" * timeline.HISTORY_TEXT_MAX_BYTES)
    assert cut["content"] == "é" * (timeline.HISTORY_TEXT_MAX_BYTES // 2)
    assert cut["content_bytes"] == 2 * timeline.HISTORY_TEXT_MAX_BYTES


def test_a_short_message_enters_the_history_whole(grinder, peer):
    connection = completed_connection(twin=grinder, peer=peer, their_label="Peer", their_endpoint="http://127.0.0.1:9/")
    assert send(message(BASIC, content="short"), connection.my_verkey, peer).status_code == 200
    recorded = HistoryEntry.objects.filter(twin=grinder, kind=HistoryEntry.Kind.MESSAGE).get().entry["content"]
    assert recorded["content"] == "short" and "content_sha256" not in recorded


def test_the_invitation_key_is_the_twins_published_agent_key(grinder, invitation):
    assert invitation.my_verkey == keys.verkey_of(keys.agent_key_of(services.agent_for_twin(grinder)))
