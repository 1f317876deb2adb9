"""What an agent receives reaches its owner: a twin's agent records every message from a connection's peer in
the twin's signed history (kind "message", still verifiable with ssi alone; a long text cut, with the hash of
the whole), basic messages and problem reports land in the owner's inbox, the twin's open private page hears of
it, and a replayed @id records nothing twice (SECURITY 14)."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from didcomm import keys, outbox, selectors, services, timeline
from didcomm.models import Agent, Connection, InboundMessage
from owners.models import Notification
from ssi import envelope
from ssi import history as chain
from ssi.bundle import verify_bundle
from ssi.keys import SigningKey
from ssi.multibase import b58encode
from tests.twins.test_live import PUSH_TIMEOUT, headers_for, listening
from twins.models import HistoryEntry
from twins.verification import export_bundle

BASIC = "https://didcomm.org/basicmessage/1.0/message"
PING = "https://didcomm.org/trust_ping/1.0/ping"
PROBLEM = "https://didcomm.org/report-problem/1.0/problem-report"
ACME_DID = "did:peer:2.Vz6MkqRYqQiSgvZQdnBytw86Qbs2ZWUkGv22od935YF4s8M7V"


class Peer:
    """The other side of a connection: its own key, sending Authcrypt envelopes to our pairwise key."""

    def __init__(self, agent: Agent, label: str = "ACME Corp") -> None:
        self.key = SigningKey.generate()
        self.connection = Connection(
            agent=agent,
            state=Connection.State.COMPLETED,
            their_label=label,
            their_did=ACME_DID,
            their_verkey=b58encode(self.key.verify_key.raw),
            their_endpoint="http://127.0.0.1:9/",  # nothing listens: replies fail fast
        )
        keys.pairwise_key_create(connection=self.connection)
        self.connection.save()

    def send(self, message: dict):
        raw = envelope.pack(json.dumps(message).encode(), to_verkeys=[self.connection.my_verkey], from_key=self.key)
        return Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)


def message(type_: str, **body) -> dict:
    return {"@type": type_, "@id": str(uuid.uuid4()), **body}


@pytest.fixture
def alice_headers(alice):
    return headers_for(alice)


@pytest.fixture
def acme(grinder) -> Peer:
    return Peer(services.agent_for_twin(grinder))


def entries_of(twin) -> list[HistoryEntry]:
    return list(HistoryEntry.objects.filter(twin=twin, kind=HistoryEntry.Kind.MESSAGE).order_by("seq"))


def assert_history_verifies(twin) -> None:
    """As a stranger checks it: the exported bundle through ssi's offline verifier (python -m ssi.verify)."""
    report = verify_bundle(json.dumps(export_bundle(twin)))
    assert report.entries == HistoryEntry.objects.filter(twin=twin).count()


@pytest.mark.django_db
def test_a_basic_message_to_a_twin_is_a_signed_history_entry_committing_to_it(grinder, acme):
    sent = message(BASIC, content="Recall: replace the burr set", sent_time="2026-11-02T10:00:00.000Z")
    assert acme.send(sent).status_code == 200
    stored = InboundMessage.objects.get(message_id=sent["@id"])
    [entry] = entries_of(grinder)
    assert entry.ref_id == stored.pk
    content = entry.entry["content"]
    assert content == {
        "received": BASIC,
        "id": sent["@id"],
        "from": {"label": "ACME Corp", "did": ACME_DID, "key": acme.connection.their_verkey},
        "content": "Recall: replace the burr set",
    }
    # The entry's hash commits to exactly that content (with its salt).
    assert entry.entry["content_hash"] == chain.content_hash(content, entry.entry["salt"])
    assert_history_verifies(grinder)


@pytest.mark.django_db
def test_every_message_a_twin_receives_is_in_its_history_pings_too(grinder, acme):
    ping = message(PING, response_requested=True)
    assert acme.send(ping).status_code == 200
    [entry] = entries_of(grinder)
    assert entry.entry["content"]["received"] == PING and entry.entry["content"]["id"] == ping["@id"]
    assert "content" not in entry.entry["content"]
    assert not Notification.objects.exists()  # a ping is nothing to read
    assert_history_verifies(grinder)


@pytest.mark.django_db
def test_a_basic_message_lands_in_the_owners_inbox_naming_the_peer_and_the_thing(alice, grinder, acme):
    assert acme.send(message(BASIC, content="Your grinder is part of recall 42")).status_code == 200
    item = Notification.objects.get(owner=alice)
    assert item.kind == Notification.Kind.AGENT
    assert item.title == "Message from ACME Corp to Coffee grinder"
    assert item.body == "Your grinder is part of recall 42"
    assert item.twin == grinder and item.sender_name == "ACME Corp"


@pytest.mark.django_db
def test_a_problem_report_is_recorded_with_its_code_and_notified(alice, grinder, acme):
    report = message(PROBLEM, description={"code": "recall-unreachable", "en": "Could not reach the device"})
    assert acme.send(report).status_code == 200
    [entry] = entries_of(grinder)
    assert entry.entry["content"]["code"] == "recall-unreachable"
    assert entry.entry["content"]["explanation"] == "Could not reach the device"
    item = Notification.objects.get(owner=alice)
    assert item.title == "Problem report from ACME Corp to Coffee grinder: recall-unreachable"
    assert item.body == "Could not reach the device"
    assert_history_verifies(grinder)


@pytest.mark.django_db
def test_a_replayed_message_is_recorded_and_notified_once(alice, grinder, acme):
    sent = message(BASIC, content="Only once, please")
    assert acme.send(sent).status_code == 200
    assert acme.send(sent).status_code == 200
    assert InboundMessage.objects.filter(message_id=sent["@id"]).count() == 1
    assert len(entries_of(grinder)) == 1
    assert Notification.objects.filter(owner=alice).count() == 1


@pytest.mark.django_db
def test_a_very_long_basic_message_is_recorded_cut_with_its_hash_and_its_notification_is_cut(alice, grinder, acme):
    content = "long " * 2000
    assert acme.send(message(BASIC, content=content)).status_code == 200
    recorded = entries_of(grinder)[0].entry["content"]
    assert recorded["content"] == content[: timeline.HISTORY_TEXT_MAX_BYTES]
    assert recorded["content_sha256"] == hashlib.sha256(content.encode()).hexdigest()
    assert recorded["content_bytes"] == len(content)
    assert_history_verifies(grinder)
    item = Notification.objects.get(owner=alice)
    assert len(item.body) == 4000 and item.body.endswith("…")
    assert len(item.title) <= 200


@pytest.mark.django_db
def test_an_owners_own_agent_notifies_the_inbox_and_writes_no_history(alice, grinder):
    peer = Peer(services.agent_for_owner(alice), label="Bob's workshop")
    before = HistoryEntry.objects.count()
    assert peer.send(message(BASIC, content="Your bike is ready")).status_code == 200
    item = Notification.objects.get(owner=alice)
    assert item.title == "Message from Bob's workshop"
    assert item.body == "Your bike is ready" and item.twin is None
    assert HistoryEntry.objects.count() == before


@pytest.mark.django_db
def test_a_problem_reports_long_code_and_explanation_are_cut_too(grinder, acme):
    report = message(PROBLEM, description={"code": "c" * 10_000, "en": "e" * 10_000})
    assert acme.send(report).status_code == 200
    recorded = entries_of(grinder)[0].entry["content"]
    assert len(recorded["code"]) == len(recorded["explanation"]) == timeline.HISTORY_TEXT_MAX_BYTES
    assert recorded["code_bytes"] == recorded["explanation_bytes"] == 10_000


@pytest.mark.django_db
def test_the_twins_private_page_shows_agent_activity_with_the_connection_label(alice_client, grinder, acme):
    assert acme.send(message(BASIC, content="Firmware 2.1 is out")).status_code == 200
    outbox.basic_message_send(connection=acme.connection, content="Thanks, will update")
    body = alice_client.get(f"/things/{grinder.slug}/").content.decode()
    section = body[body.index('id="agent"') :]
    assert section.index("Thanks, will update") < section.index("Firmware 2.1 is out")
    assert "received from" in section and "sent to" in section
    assert f'href="/things/{grinder.slug}/connections/{acme.connection.pk}/">ACME Corp</a>' in section


@pytest.mark.django_db
def test_agent_activity_of_a_twin_without_an_agent_is_empty_and_makes_no_agent(alice_client, grinder):
    body = alice_client.get(f"/things/{grinder.slug}/").content.decode()
    assert "Its agent has received and sent nothing yet." in body
    assert not Agent.objects.exists()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_twins_open_page_hears_agent_activity_after_commit(alice_headers, grinder, acme):
    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as socket:
        response = await database_sync_to_async(acme.send)(message(PING, response_requested=False))
        assert response.status_code == 200
        event = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
    assert event == {"kind": "agent", "thing": grinder.slug}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_message_sent_from_the_connections_page_reaches_the_twins_open_page(
    alice_client, alice_headers, grinder, acme
):
    url = f"/things/{grinder.slug}/connections/{acme.connection.pk}/message/"
    async with listening(f"/ws/twins/{grinder.slug}/", alice_headers) as socket:
        response = await database_sync_to_async(alice_client.post)(url, {"content": "On my way"})
        assert response.status_code == 302
        event = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
    assert event == {"kind": "agent", "thing": grinder.slug}


NOTIFICATION_PROBLEM = "https://didcomm.org/notification/1.0/problem-report"


@pytest.mark.django_db
def test_a_thing_moved_report_from_a_peer_is_a_problem_in_words_in_history_inbox_and_activity(alice, grinder, acme):
    # What another Thingstead answers for a thing that moved away (notification/1.0, the type ACA-Py handles).
    report = message(
        NOTIFICATION_PROBLEM,
        description={"code": "thing-moved", "en": "this thing has moved to https://b.example"},
        impact="connection",
    )
    assert acme.send(report).status_code == 200
    [entry] = entries_of(grinder)
    assert entry.entry["content"]["code"] == "thing-moved"
    assert entry.entry["content"]["explanation"] == "this thing has moved to https://b.example"
    item = Notification.objects.get(owner=alice)
    assert item.kind == Notification.Kind.SYSTEM
    assert item.title == "Problem report from ACME Corp to Coffee grinder: thing-moved"
    assert item.body == "The thing has moved to another host: this thing has moved to https://b.example"
    [activity] = selectors.activity_list(agent=acme.connection.agent)
    assert activity.direction == "received" and activity.kind == "Problem report"
    assert activity.text == "The thing has moved to another host: this thing has moved to https://b.example"
    assert_history_verifies(grinder)


@pytest.mark.django_db
def test_a_problem_report_we_sent_shows_as_a_problem_in_words(grinder, acme):
    # An unknown message type is answered with a problem report; the activity list says what it meant.
    assert acme.send(message("https://didcomm.org/coffee/1.0/grind")).status_code == 200
    sent = [item for item in selectors.activity_list(agent=acme.connection.agent) if item.direction == "sent"]
    assert [(item.kind, item.text.split(":")[0]) for item in sent] == [
        ("Problem report", "The other agent does not understand this kind of message")
    ]


@pytest.mark.django_db
def test_a_problem_report_of_another_protocol_is_named_a_problem_report(grinder, acme):
    report = message(
        "https://didcomm.org/issue-credential/2.0/problem-report",
        description={"code": "issuance-abandoned", "en": "the holder declined"},
        **{"~thread": {"thid": str(uuid.uuid4())}},
    )
    kind, text = timeline.describe(report["@type"], report)
    assert (kind, text) == ("Problem report", "issuance-abandoned: the holder declined")
