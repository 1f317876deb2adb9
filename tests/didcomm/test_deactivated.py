"""A deactivated twin's agent stops: the first message a peer sends afterwards is answered with a problem report
(the connection is then closed), everything after it is refused, and the owner can no longer send or ping. Its
history is closed, so nothing is even tried there."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from didcomm import timeline
from didcomm.models import Connection, InboundMessage, OutboundMessage
from owners.models import Notification
from ssi import envelope
from tests.didcomm.endpoints import completed_connection, verkey
from twins import services as twin_services
from twins.models import HistoryEntry

pytestmark = pytest.mark.django_db

BASIC = "https://didcomm.org/basicmessage/1.0/message"
PING = "https://didcomm.org/trust_ping/1.0/ping"


def message(type_: str, **body) -> dict:
    return {"@type": type_, "@id": str(uuid.uuid4()), **body}


def send(body: dict, connection: Connection, sender):
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[connection.my_verkey], from_key=sender)
    return Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)


@pytest.fixture
def connection(grinder, peer) -> Connection:
    return completed_connection(twin=grinder, peer=peer, their_label="Peer", their_endpoint="http://127.0.0.1:9/")


@pytest.fixture
def deactivated(grinder, monkeypatch):
    twin_services.twin_deactivate(twin=grinder)

    def closed(**kwargs):
        raise AssertionError("a deactivated twin's history is closed: nothing may try to append to it")

    monkeypatch.setattr(timeline, "history_append", closed)
    return grinder


@pytest.mark.parametrize("body", [message(BASIC, content="Anyone there?"), message(PING)], ids=["message", "ping"])
def test_a_peer_writing_to_a_deactivated_twin_gets_a_problem_report_and_is_refused(
    alice, connection, peer, deactivated, body
):
    before = HistoryEntry.objects.filter(twin=deactivated).count()
    response = send(body, connection, peer)
    assert response.status_code == 400
    assert "deactivated" in response.json()["message"]
    report = OutboundMessage.objects.get()
    # The RFC 0035 type ACA-Py 1.7 handles (report-problem/1.0 it drops); nothing works on this connection any more.
    assert report.type == "https://didcomm.org/notification/1.0/problem-report"
    assert report.body["impact"] == "connection"
    assert report.connection == connection and report.to_verkey == verkey(peer)
    assert report.body["description"]["code"] == "twin-deactivated"
    assert report.body["~thread"]["thid"] == body["@id"]
    connection.refresh_from_db()
    assert connection.state == Connection.State.ABANDONED
    assert HistoryEntry.objects.filter(twin=deactivated).count() == before
    assert not InboundMessage.objects.exists()
    assert not Notification.objects.filter(owner=alice, kind=Notification.Kind.AGENT).exists()


def test_after_the_problem_report_everything_is_refused_unanswered(connection, peer, deactivated):
    send(message(PING), connection, peer)
    response = send(message(BASIC, content="Hello?"), connection, peer)
    assert response.status_code == 400 and "deactivated" in response.json()["message"]
    assert OutboundMessage.objects.count() == 1  # the one problem report
    assert not InboundMessage.objects.exists()


def test_a_stranger_gets_no_problem_report_from_a_deactivated_twin(connection, deactivated):
    from ssi.keys import SigningKey

    assert send(message(PING), connection, SigningKey.generate()).status_code == 400
    assert not OutboundMessage.objects.exists()
    connection.refresh_from_db()
    assert connection.state == Connection.State.COMPLETED


@pytest.mark.parametrize(("action", "data"), [("message", {"content": "Still there?"}), ("ping", {})])
def test_the_owner_cannot_send_from_a_deactivated_twins_agent(alice_client, connection, deactivated, action, data):
    url = f"/things/{deactivated.slug}/connections/{connection.pk}/{action}/"
    response = alice_client.post(url, data)
    assert response.status_code == 400
    assert "This thing is deactivated" in response.content.decode()
    assert not OutboundMessage.objects.exists()


def test_the_connection_page_of_a_deactivated_twin_says_why_nothing_can_be_sent(alice_client, connection, deactivated):
    page = alice_client.get(f"/things/{deactivated.slug}/connections/{connection.pk}/").content.decode()
    assert "This thing is deactivated" in page
