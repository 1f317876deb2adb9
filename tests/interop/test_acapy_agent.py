"""A real ACA-Py agent on loopback (see acapy_live.py) against Thingstead's DIDComm pieces.

ACA-Py invites: its out-of-band invitation parses with ssi.oob and its key resolves with ssi.didkey.
Thingstead invites: ACA-Py accepts the twin's invitation (DID Exchange 1.1 and 1.0) and its request reaches
POST /didcomm/ as an envelope our code opens; the request's DID (did:peer:4 long form, or an unqualified DID with a
signed did_doc~attach) is verified and answered with our response, and the exchange completes. Altered copies of
ACA-Py's real requests are refused with RFC 0023 problem reports. (The full scenarios, both ways, with pings,
messages and DID rotation, are in test_acapy_scenarios.py, whose live-server helpers these tests share.)
"""

from __future__ import annotations

import base64
import json

import pytest

from didcomm import dispatch, handlers, outbox, services
from didcomm.models import Connection, InboundMessage
from ssi import didexchange, oob
from ssi.didkey import verify_key_from_did_key
from ssi.multibase import b58encode

from . import test_acapy_scenarios as scenarios
from .test_acapy_scenarios import admin, wait_until, webhook

live = scenarios.live  # the fixture: our endpoint is the live server, used by one thread at a time

DIDEXCHANGE_REQUESTS = {
    "https://didcomm.org/didexchange/1.1/request",
    "https://didcomm.org/didexchange/1.0/request",
}


def test_acapy_is_ready(acapy_agent):
    assert acapy_agent.admin("GET", "/status/ready")["ready"] is True
    assert acapy_agent.admin("GET", "/status/live")["alive"] is True


@pytest.mark.parametrize("protocol", [oob.DIDEXCHANGE_11, oob.DIDEXCHANGE_10])
def test_acapy_invitation_parses_with_ssi_oob(acapy_agent, protocol):
    created = acapy_agent.admin(
        "POST",
        "/out-of-band/create-invitation",
        {"handshake_protocols": [protocol], "use_public_did": False, "my_label": "acapy-test"},
    )
    invitation = oob.parse_url(created["invitation_url"])

    assert invitation.id == created["invitation"]["@id"]
    assert invitation.label == "acapy-test"
    assert invitation.handshake_protocols == (protocol,)
    (service,) = invitation.services
    assert isinstance(service, oob.InlineService)
    assert service.service_endpoint == acapy_agent.endpoint
    (key,) = service.recipient_keys
    assert key.startswith("did:key:z6Mk")
    verkey = verify_key_from_did_key(key)
    assert service.recipient_verkeys == (b58encode(verkey.raw),)
    # The same invitation, parsed from the message rather than the URL.
    assert oob.parse_invitation(created["invitation"]) == invitation


def _request_from_acapy(acapy_agent, grinder, live_url: str, protocols: tuple[str, ...]):
    """Have ACA-Py accept a fresh invitation of the twin's; return (connection, invitation, stored request)."""
    connection = outbox.invitation_create(agent=services.agent_for_twin(grinder), handshake_protocols=protocols)
    invitation = oob.parse_url(connection.invitation_url)
    assert invitation.services[0].service_endpoint == f"{live_url}/didcomm/"
    record = admin(
        acapy_agent, "POST", "/out-of-band/receive-invitation?auto_accept=true", invitation.message, timeout=20
    )
    assert record.get("state") != "abandoned", record

    def arrived():
        for message in InboundMessage.objects.filter(agent__twin=grinder, type__in=DIDEXCHANGE_REQUESTS):
            if message.body.get("~thread", {}).get("pthid") == invitation.id:
                return message
        return None

    request = wait_until(arrived)
    assert request is not None, f"no DID Exchange request arrived; got {list(InboundMessage.objects.values('type'))}"
    return connection, invitation, request


@pytest.mark.parametrize(
    ("protocols", "version"),
    [((oob.DIDEXCHANGE_11, oob.DIDEXCHANGE_10), "1.1"), ((oob.DIDEXCHANGE_10,), "1.0")],
)
def test_acapy_accepts_our_invitation_and_its_verified_request_is_answered(
    live, grinder, acapy_agent, acapy_webhooks, protocols, version
):
    connection, invitation, request = _request_from_acapy(acapy_agent, grinder, live.url, protocols)

    assert request.type == f"https://didcomm.org/didexchange/{version}/request"
    # Opened by ssi.envelope with the twin's invitation key: Authcrypt from ACA-Py's new key for us.
    assert request.sender_verkey
    assert request.body["label"] == "acapy-test"
    assert request.body["~thread"]["pthid"] == invitation.id
    # Verified: answered with our response (no problem report), on the request's thread.
    (response,) = request.replies.all()
    assert response.type == f"https://didcomm.org/didexchange/{version}/response"
    assert response.body["~thread"] == {"thid": request.message_id, "pthid": invitation.id}
    assert response.to_verkey == request.sender_verkey

    connection.refresh_from_db()
    assert request.connection_id == connection.pk
    assert connection.protocol == version
    assert connection.thread_id == request.message_id
    assert connection.their_label == "acapy-test"
    assert connection.their_verkey == request.sender_verkey
    assert connection.their_endpoint == acapy_agent.endpoint
    assert connection.their_did == request.body["did"]
    assert response.body["did"] == connection.my_did
    if version == "1.1":
        assert connection.their_did.startswith("did:peer:4")
        assert ":" in connection.their_did.removeprefix("did:peer:4")  # the long form
        assert "did_rotate~attach" in response.body
    else:
        assert "did_doc~attach" in request.body and "did_doc~attach" in response.body
    # ACA-Py took the response and completed; so do we (on its complete, or its trust ping).
    event = webhook(acapy_webhooks.webhooks, "connections", invitation_msg_id=invitation.id, rfc23_state="completed")
    assert event["their_label"] == grinder.name
    assert wait_until(lambda: Connection.objects.filter(pk=connection.pk, state="completed").exists())


def _copy(body: dict) -> dict:
    return json.loads(json.dumps(body))


def test_tampered_or_misbound_acapy_requests_are_refused(live, grinder, acapy_agent):
    """ACA-Py's real 1.0 and 1.1 requests, altered: each refusal is a problem report, the connection stays invited."""
    _, _, request_10 = _request_from_acapy(acapy_agent, grinder, live.url, (oob.DIDEXCHANGE_10,))
    _, _, request_11 = _request_from_acapy(acapy_agent, grinder, live.url, (oob.DIDEXCHANGE_11,))
    body_10, body_11 = request_10.body, request_11.body
    assert didexchange.resolve_request_did(body_10).verkeys == (request_10.sender_verkey,)
    assert didexchange.resolve_request_did(body_11).verkeys == (request_11.sender_verkey,)

    # 1.0: a flipped byte in the signed DID document, in the signature, or a document for another DID.
    attach = body_10["did_doc~attach"]["data"]
    doc = json.loads(base64.b64decode(attach["base64"]))
    tampered = _copy(body_10)
    doc_changed = dict(doc, service=[dict(doc["service"][0], serviceEndpoint="http://127.0.0.1:1/evil")])
    tampered["did_doc~attach"]["data"]["base64"] = base64.b64encode(json.dumps(doc_changed).encode()).decode()
    bad_signature = _copy(body_10)
    sig = bad_signature["did_doc~attach"]["data"]["jws"]["signature"]
    bad_signature["did_doc~attach"]["data"]["jws"]["signature"] = ("B" if sig[0] == "A" else "A") + sig[1:]
    other_did = _copy(body_10)
    other_did["did"] = "7W3Dd5NvRqZBx4ovJP4gfT"
    unsigned = _copy(body_10)
    del unsigned["did_doc~attach"]["data"]["jws"]
    no_doc = _copy(body_10)
    del no_doc["did_doc~attach"]
    # 1.1: a did:peer:4 whose long form does not match its hash.
    peer4 = body_11["did"]
    wrong_hash = _copy(body_11)
    wrong_hash["did"] = peer4[:-1] + ("a" if peer4[-1] != "a" else "b")
    for body in (tampered, bad_signature, other_did, unsigned, no_doc, wrong_hash):
        with pytest.raises(didexchange.ExchangeError):
            didexchange.resolve_request_did(body)

    # Through the handler: a valid DID sent with a key that is not the DID's, an unknown pthid, a reused invitation.
    def run(body: dict, sender: str, message_id: str) -> dict | None:
        message = InboundMessage.objects.create(
            agent=services.agent_for_twin(grinder),
            sender_verkey=sender,
            message_id=message_id,
            type=body["@type"],
            body=body,
        )
        ctx = handlers.Context(message=message, connection=None)
        reply = dispatch.dispatch(ctx)
        if reply is None and ctx.answers:
            # A refusal for a requester whose DID is proven its own goes to the endpoint that DID names.
            (answer,) = ctx.answers
            assert answer.to_endpoint and answer.to_verkey == sender
            return answer.body
        return reply

    fresh = outbox.invitation_create(agent=services.agent_for_twin(grinder))
    misbound = dict(body_11, **{"@id": "misbound", "~thread": {"thid": "misbound", "pthid": fresh.invitation_id}})
    report = run(misbound, request_10.sender_verkey, "misbound")
    assert report["@type"] == "https://didcomm.org/didexchange/1.1/problem_report"
    assert report["~thread"] == {"thid": "misbound", "pthid": fresh.invitation_id}
    assert report["description"]["code"] == "request_processing_error"
    unknown = dict(body_11, **{"@id": "unknown", "~thread": {"thid": "unknown", "pthid": "no-such-invitation"}})
    assert run(unknown, request_11.sender_verkey, "unknown")["description"]["code"] == "request_not_accepted"
    fresh.refresh_from_db()
    assert fresh.state == fresh.State.INVITED
    good = dict(body_11, **{"@id": "good", "~thread": {"thid": "good", "pthid": fresh.invitation_id}})
    assert run(good, request_11.sender_verkey, "good")["@type"] == "https://didcomm.org/didexchange/1.1/response"
    fresh.refresh_from_db()
    assert fresh.state == fresh.State.RESPONDED
    again = dict(good, **{"@id": "again", "~thread": {"thid": "again", "pthid": fresh.invitation_id}})
    assert run(again, request_11.sender_verkey, "again")["description"]["code"] == "request_not_accepted"
