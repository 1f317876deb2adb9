"""POST /didcomm/: envelopes packed with ssi.envelope for a twin's agent key are opened, stored once and
dispatched through the handler table; everything else is a 400 with a reason, never a 500."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from didcomm import keys, outbox, services
from didcomm.models import Connection, InboundMessage, OutboundMessage
from ssi import didexchange, envelope
from ssi.keys import SigningKey
from ssi.multibase import b58encode
from twins.identity import agent_key

pytestmark = pytest.mark.django_db

URL = "/didcomm/"


@pytest.fixture
def twin_verkey(grinder) -> str:
    return keys.recipient_key_ensure(agent=services.agent_for_twin(grinder))


@pytest.fixture
def connection(grinder, twin_verkey, peer) -> Connection:
    return Connection.objects.create(
        agent=services.agent_for_twin(grinder),
        state=Connection.State.COMPLETED,
        their_label="ACA-Py",
        their_verkey=b58encode(peer.verify_key.raw),
        my_verkey=twin_verkey,
        their_endpoint="http://127.0.0.1:8030/",
    )


def message(type_: str, **body) -> dict:
    return {"@type": type_, "@id": str(uuid.uuid4()), **body}


def post(raw: bytes, content_type: str = envelope.MEDIA_TYPE):
    return Client().post(URL, data=raw, content_type=content_type)


def send(msg: dict, to: str, sender: SigningKey | None, content_type: str = envelope.MEDIA_TYPE):
    return post(envelope.pack(json.dumps(msg).encode(), to_verkeys=[to], from_key=sender), content_type)


def test_the_twins_registered_key_is_its_agent_verkey(grinder, twin_verkey):
    assert twin_verkey == b58encode(agent_key(grinder).verify_key.raw)


def test_a_ping_is_answered_with_a_queued_ping_response(connection, twin_verkey, peer):
    ping = message("https://didcomm.org/trust_ping/1.0/ping", response_requested=True)
    response = send(ping, twin_verkey, peer)
    assert response.status_code == 200
    assert response.content == b""
    stored = InboundMessage.objects.get(message_id=ping["@id"])
    assert stored.connection == connection and stored.body == ping
    reply = OutboundMessage.objects.get(in_reply_to=stored)
    assert reply.type == "https://didcomm.org/trust_ping/1.0/ping_response"
    assert reply.body["~thread"] == {"thid": ping["@id"]}
    assert reply.to_verkey == connection.their_verkey and reply.connection == connection


def test_a_ping_without_response_requested_gets_no_answer(connection, twin_verkey, peer):
    ping = message("https://didcomm.org/trust_ping/1.0/ping", response_requested=False)
    assert send(ping, twin_verkey, peer).status_code == 200
    assert not OutboundMessage.objects.exists()


@pytest.mark.parametrize("content_type", ["application/ssi-agent-wire", "application/json"])
def test_the_legacy_prefix_and_the_other_media_types_are_accepted(connection, twin_verkey, peer, content_type):
    ping = message("did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/trust_ping/1.0/ping")
    assert send(ping, twin_verkey, peer, content_type).status_code == 200
    assert OutboundMessage.objects.get().type.endswith("trust_ping/1.0/ping_response")


def test_a_ping_response_sets_the_round_trip_time(connection, twin_verkey, peer):
    ping = outbox.ping_send(connection=connection)
    answer = message("https://didcomm.org/trust_ping/1.0/ping_response", **{"~thread": {"thid": ping.message_id}})
    assert send(answer, twin_verkey, peer).status_code == 200
    connection.refresh_from_db()
    assert connection.last_ping_at is not None
    assert connection.last_rtt_ms is not None and connection.last_rtt_ms >= 0
    assert OutboundMessage.objects.count() == 1  # the ping itself; a response is not answered


def test_a_basic_message_is_stored_for_the_owner(connection, twin_verkey, peer):
    chat = message(
        "https://didcomm.org/basicmessage/1.0/message", content="Hello grinder", sent_time="2026-01-01T00:00:00Z"
    )
    assert send(chat, twin_verkey, peer).status_code == 200
    stored = InboundMessage.objects.get(message_id=chat["@id"])
    assert stored.body["content"] == "Hello grinder"
    assert stored.agent == connection.agent
    assert not OutboundMessage.objects.exists()


def test_an_unknown_type_gets_a_problem_report_not_an_error(connection, twin_verkey, peer):
    odd = message("https://didcomm.org/coffee/1.0/grind")
    response = send(odd, twin_verkey, peer)
    assert response.status_code == 200
    report = OutboundMessage.objects.get()
    assert report.type == "https://didcomm.org/notification/1.0/problem-report"  # the type ACA-Py 1.7 handles
    assert report.body["~thread"] == {"thid": odd["@id"]}
    assert report.body["description"]["code"] == "unsupported-message-type"


def test_a_duplicate_message_id_on_a_connection_is_processed_once(connection, twin_verkey, peer):
    ping = message("https://didcomm.org/trust_ping/1.0/ping")
    for _ in range(3):
        # Packed afresh each time: a retransmission, not a replayed byte string.
        assert send(ping, twin_verkey, peer).status_code == 200
    assert InboundMessage.objects.filter(message_id=ping["@id"]).count() == 1
    assert OutboundMessage.objects.count() == 1


def test_a_duplicate_outside_any_connection_is_processed_once_too(grinder, twin_verkey, peer):
    """Outside a connection only a DID Exchange request is taken; one for a used invitation is answered with a
    problem report, once however often it is sent."""
    invitation = outbox.invitation_create(agent=services.agent_for_twin(grinder))
    Connection.objects.filter(pk=invitation.pk).update(state=Connection.State.COMPLETED)
    did = didexchange.peer4_did(peer.verify_key, "http://127.0.0.1:9/")
    request = message("https://didcomm.org/didexchange/1.1/request", label="Late", did=did)
    request["~thread"] = {"thid": request["@id"], "pthid": invitation.invitation_id}
    for _ in range(3):
        assert send(request, twin_verkey, peer).status_code == 200
    assert InboundMessage.objects.filter(message_id=request["@id"], connection=None).count() == 1
    assert OutboundMessage.objects.get().body["description"]["code"] == "request_not_accepted"


def test_the_same_id_from_two_connections_is_two_messages(grinder, connection, twin_verkey, peer):
    other = SigningKey.generate()
    Connection.objects.create(
        agent=services.agent_for_twin(grinder),
        state="completed",
        their_verkey=b58encode(other.verify_key.raw),
        my_verkey=twin_verkey,
    )
    ping = message("https://didcomm.org/trust_ping/1.0/ping")
    send(ping, twin_verkey, peer)
    send(ping, twin_verkey, other)
    assert InboundMessage.objects.filter(message_id=ping["@id"]).count() == 2


def refusal(response) -> str:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()["message"]


def test_an_envelope_for_an_unknown_key_is_refused(twin_verkey, peer):
    stranger = b58encode(SigningKey.generate().verify_key.raw)
    assert "no recipient key" in refusal(send(message("https://didcomm.org/trust_ping/1.0/ping"), stranger, peer))


def test_a_twin_key_never_handed_out_is_unknown(grinder, peer):
    verkey = b58encode(agent_key(grinder).verify_key.raw)
    assert "no recipient key" in refusal(send(message("https://didcomm.org/trust_ping/1.0/ping"), verkey, peer))


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"@type": "https://didcomm.org/trust_ping/1.0/ping"}', "@id"),
        (b'{"@id": "1"}', "@type"),
        (b'{"@id": "1", "@type": "x", "content": "a\\u0000b"}', "NUL characters"),
        (b'{"@id": "1", "@type": "x", "content": "\\ud800"}', "surrogates"),
    ],
)
def test_a_bad_plaintext_is_refused_with_a_reason(twin_verkey, peer, plaintext, reason):
    raw = envelope.pack(plaintext, to_verkeys=[twin_verkey], from_key=peer)
    assert reason in refusal(post(raw))
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize("raw", [b"", b"garbage", b"{}", b"[]", b'{"protected": 1}', b"\xff" * 40])
def test_garbage_is_a_400_with_a_reason(twin_verkey, raw):
    assert refusal(post(raw))


def test_a_tampered_envelope_is_a_400(twin_verkey, peer):
    raw = bytearray(envelope.pack(b'{"@id":"1","@type":"x"}', to_verkeys=[twin_verkey], from_key=peer))
    outer = json.loads(raw)
    ciphertext = outer["ciphertext"]
    outer["ciphertext"] = ("B" if ciphertext[0] != "B" else "C") + ciphertext[1:]
    assert "decrypt" in refusal(post(json.dumps(outer).encode()))


def test_other_media_types_are_refused_with_415(twin_verkey):
    response = post(b"{}", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["message"]


def test_get_is_not_allowed():
    assert Client().get(URL).status_code == 405


# -- fuzz -----------------------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(raw=st.binary(max_size=2048))
def test_fuzz_random_bytes_are_always_a_400(twin_verkey, raw):
    assert refusal(post(raw))


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_envelopes_are_never_a_500(connection, twin_verkey, peer, data):
    raw = bytearray(
        envelope.pack(
            json.dumps(message("https://didcomm.org/trust_ping/1.0/ping")).encode(),
            to_verkeys=[twin_verkey],
            from_key=peer,
        )
    )
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        at = data.draw(st.integers(0, len(raw) - 1))
        if kind == "flip":
            raw[at] = data.draw(st.integers(0, 255))
        elif kind == "delete":
            del raw[at]
        elif kind == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del raw[at:]
        if not raw:
            break
    response = post(bytes(raw))
    # A mutation can leave the envelope as it was (a byte replaced by itself): then it is simply accepted.
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.json()["message"]


def test_a_stranger_who_knows_a_pairwise_key_does_not_speak_for_the_peer(grinder, connection, peer):
    pairwise = keys.pairwise_key_create(connection=connection)
    connection.save()
    chat = message("https://didcomm.org/basicmessage/1.0/message", content="I am your peer, honest")
    stranger = SigningKey.generate()
    assert "no connection with this sender" in refusal(send(chat, b58encode(pairwise.verify_key.raw), stranger))
    assert not InboundMessage.objects.exists()

    from_peer = message("https://didcomm.org/basicmessage/1.0/message", content="it is me")
    assert send(from_peer, b58encode(pairwise.verify_key.raw), peer).status_code == 200
    assert InboundMessage.objects.get(message_id=from_peer["@id"]).connection == connection
