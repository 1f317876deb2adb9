"""RFC 0023 DID Exchange through POST /didcomm/, both roles, 1.1 and 1.0, with real keys and envelopes.

The peer here is played with ssi (its own keys, DIDs and signed attachments); the interop tests play the same
scenes against a real ACA-Py. Nothing is delivered (on-commit callbacks do not run in these tests): what we send
is read from the queued OutboundMessage rows.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid

import pytest
from django.test import Client

from didcomm import exchange, keys, outbox, services
from didcomm.models import Connection, InboundMessage, OutboundMessage
from ssi import didexchange, didpeer, envelope, jws, oob
from ssi.keys import SigningKey, VerifyKey
from ssi.multibase import b58decode, b58encode

pytestmark = pytest.mark.django_db

PEER_ENDPOINT = "http://127.0.0.1:9/peer"
PREFIX = "https://didcomm.org/"


def verkey(key: SigningKey) -> str:
    return b58encode(key.verify_key.raw)


def verkey_of(key: VerifyKey) -> str:
    return b58encode(key.raw)


class Peer:
    """Another agent: an invitation key, a connection key, and its DID over that key."""

    def __init__(self) -> None:
        self.invitation_key = SigningKey.generate()
        self.key = SigningKey.generate()

    def did(self, version: str, key: SigningKey | None = None) -> str:
        key = key or self.key
        if version == "1.0":
            return didexchange.unqualified_did(key.verify_key)
        return didexchange.peer4_did(key.verify_key, PEER_ENDPOINT)

    def send(self, body: dict, to: str, *, sender: SigningKey | None = None):
        raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[to], from_key=sender or self.key)
        response = Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)
        assert response.status_code == 200, response.content
        return InboundMessage.objects.get(message_id=body["@id"], sender_verkey=verkey(sender or self.key))


def message(type_: str, **body) -> dict:
    return {"@type": PREFIX + type_, "@id": str(uuid.uuid4()), **body}


def reply_to(inbound: InboundMessage) -> OutboundMessage:
    (reply,) = inbound.replies.all()
    return reply


@pytest.fixture
def peer() -> Peer:
    return Peer()


@pytest.fixture
def agent(grinder):
    return services.agent_for_twin(grinder)


# -- we invited: request, response, complete ------------------------------------------------------------------------


@pytest.fixture
def invitation(agent) -> Connection:
    return outbox.invitation_create(agent=agent)


def request_body(peer: Peer, invitation: Connection, version: str = "1.1") -> dict:
    did = peer.did(version)
    body = message(f"didexchange/{version}/request", label="Peer agent", did=did)
    body["~thread"] = {"thid": body["@id"], "pthid": invitation.invitation_id}
    if version == "1.0":
        document = didexchange.legacy_document(did, peer.key.verify_key, PEER_ENDPOINT)
        body["did_doc~attach"] = didexchange.did_doc_attachment(document, peer.key)
    return body


def responded(peer: Peer, invitation: Connection, version: str = "1.1") -> tuple[Connection, InboundMessage]:
    request = peer.send(request_body(peer, invitation, version), invitation.my_verkey)
    invitation.refresh_from_db()
    return invitation, request


def test_a_verified_11_request_is_answered_with_our_peer4_did_signed_by_the_invitation_key(agent, peer, invitation):
    invitation_verkey = invitation.my_verkey
    connection, request = responded(peer, invitation)

    assert connection.state == Connection.State.RESPONDED
    assert connection.protocol == "1.1"
    assert connection.thread_id == request.message_id
    assert connection.their_did == request.body["did"]
    assert connection.their_verkey == verkey(peer.key)
    assert connection.their_endpoint == PEER_ENDPOINT
    assert connection.their_label == "Peer agent"
    assert connection.my_verkey != invitation_verkey  # a fresh pairwise key, not the invitation's
    response = reply_to(request)
    assert response.type == PREFIX + "didexchange/1.1/response"
    assert response.body["~thread"] == {"thid": request.message_id, "pthid": invitation.invitation_id}
    assert response.to_verkey == verkey(peer.key)
    assert response.connection == connection
    # Our DID: a long-form did:peer:4 whose one Ed25519 key is the connection key, reachable at our endpoint.
    did = response.body["did"]
    assert did == connection.my_did and did.startswith("did:peer:4")
    document = didpeer.resolve(did)
    assert didexchange.resolve_did(did).recipient_verkey == connection.my_verkey
    (service,) = document["service"]
    assert service["type"] == "did-communication" and service["serviceEndpoint"] == keys.endpoint_url()
    # did_rotate~attach: exactly that DID, signed with the invitation's key.
    payload, signer = jws.verify_data(response.body["did_rotate~attach"]["data"])
    assert payload == did.encode() and verkey_of(signer) == invitation_verkey
    assert "did_doc~attach" not in response.body


def test_a_verified_10_request_is_answered_with_an_unqualified_did_and_a_signed_document(agent, peer, invitation):
    invitation_verkey = invitation.my_verkey
    connection, request = responded(peer, invitation, "1.0")

    assert connection.protocol == "1.0" and connection.state == Connection.State.RESPONDED
    response = reply_to(request)
    assert response.type == PREFIX + "didexchange/1.0/response"
    did = response.body["did"]
    assert did == connection.my_did == b58encode(b58decode(connection.my_verkey)[:16])
    payload, signer = jws.verify_data(response.body["did_doc~attach"]["data"])
    assert verkey_of(signer) == invitation_verkey
    document = json.loads(payload)
    assert document["id"] == f"did:sov:{did}"
    assert [key["publicKeyBase58"] for key in document["publicKey"]] == [connection.my_verkey]
    assert document["service"][0]["serviceEndpoint"] == keys.endpoint_url()
    # What we send verifies as a requester would check it (the invitation key signed this document).
    their = didexchange.resolve_response_did(response.body, invitation_verkey=invitation_verkey)
    assert their.verkeys == (connection.my_verkey,)


def complete_body(connection: Connection, thid: str | None = None) -> dict:
    body = message("didexchange/1.1/complete")
    body["~thread"] = {"thid": thid or connection.thread_id, "pthid": connection.invitation_id}
    return body


def test_the_requesters_complete_completes_the_connection(peer, invitation):
    connection, _ = responded(peer, invitation)
    complete = peer.send(complete_body(connection), connection.my_verkey)
    connection.refresh_from_db()
    assert connection.state == Connection.State.COMPLETED
    assert complete.connection == connection
    assert not complete.replies.exists()


def test_a_complete_with_a_wrong_thid_gets_a_problem_report_and_changes_nothing(peer, invitation):
    connection, _ = responded(peer, invitation)
    complete = peer.send(complete_body(connection, thid="another-exchange"), connection.my_verkey)
    report = reply_to(complete)
    assert report.type == PREFIX + "didexchange/1.1/problem_report"
    assert report.body["description"]["code"] == "complete_not_accepted"
    assert report.body["~thread"]["thid"] == "another-exchange"
    connection.refresh_from_db()
    assert connection.state == Connection.State.RESPONDED


def refused(body: dict, to: str, sender: SigningKey) -> None:
    """From no connection's peer: refused (400), stored nowhere, answered to nobody."""
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[to], from_key=sender)
    response = Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)
    assert response.status_code == 400, response.content
    assert "no connection with this sender" in response.json()["message"]
    assert not InboundMessage.objects.filter(message_id=body["@id"]).exists()


def test_a_complete_from_another_key_is_refused(peer, invitation):
    connection, _ = responded(peer, invitation)
    refused(complete_body(connection), connection.my_verkey, SigningKey.generate())
    connection.refresh_from_db()
    assert connection.state == Connection.State.RESPONDED
    assert not OutboundMessage.objects.exclude(type=PREFIX + "didexchange/1.1/response").exists()


def test_the_requesters_complete_to_the_invitation_key_completes_the_connection(peer, invitation):
    invitation_key = invitation.my_verkey
    connection, _ = responded(peer, invitation)
    complete = peer.send(complete_body(connection), invitation_key)
    connection.refresh_from_db()
    assert connection.state == Connection.State.COMPLETED
    assert complete.connection == connection


def test_a_trust_ping_from_the_requester_completes_a_responded_connection(peer, invitation):
    connection, _ = responded(peer, invitation)
    ping = peer.send(message("trust_ping/1.0/ping", response_requested=True), connection.my_verkey)
    connection.refresh_from_db()
    assert connection.state == Connection.State.COMPLETED
    assert reply_to(ping).type == PREFIX + "trust_ping/1.0/ping_response"
    # A complete arriving after the ping is taken quietly.
    assert not peer.send(complete_body(connection), connection.my_verkey).replies.exists()


def test_a_trust_ping_from_a_stranger_does_not_complete(peer, invitation):
    connection, _ = responded(peer, invitation)
    refused(message("trust_ping/1.0/ping", response_requested=False), connection.my_verkey, SigningKey.generate())
    connection.refresh_from_db()
    assert connection.state == Connection.State.RESPONDED


def test_a_second_request_for_a_used_invitation_is_refused(peer, invitation):
    invitation_key = invitation.my_verkey  # the agent's own key; the connection moves to a pairwise one
    responded(peer, invitation)
    again = Peer()
    request = again.send(request_body(again, invitation), invitation_key)
    report = reply_to(request)
    assert report.type == PREFIX + "didexchange/1.1/problem_report"
    assert report.body["description"]["code"] == "request_not_accepted"


def test_the_refusal_of_a_reused_invitation_reaches_the_endpoint_the_request_names(peer, invitation):
    """The second requester knows no connection with us: its request's did:peer:4 says where to answer."""
    from didcomm import transport
    from tests.didcomm.endpoints import http_endpoint, open_message

    invitation_key = invitation.my_verkey  # the agent's own key, which the invitation names
    responded(peer, invitation)
    again = Peer()
    with http_endpoint() as (url, received):
        body = message(
            "didexchange/1.1/request", label="Late agent", did=didexchange.peer4_did(again.key.verify_key, url)
        )
        body["~thread"] = {"thid": body["@id"], "pthid": invitation.invitation_id}
        report = reply_to(again.send(body, invitation_key))
        transport.deliver(report.pk)
    report.refresh_from_db()
    assert report.status == OutboundMessage.Status.SENT, report.last_error
    (raw,) = received.bodies
    refusal = open_message(raw, again.key)
    assert refusal["@type"] == PREFIX + "didexchange/1.1/problem_report"
    assert refusal["description"]["code"] == "request_not_accepted"
    assert refusal["~thread"] == {"thid": body["@id"], "pthid": invitation.invitation_id}
    invitation.refresh_from_db()
    assert invitation.their_verkey == verkey(peer.key)  # the first requester keeps the connection


def test_an_invitation_of_a_twin_that_changed_keys_is_no_longer_answered(agent, peer, invitation, grinder):
    """After a transfer the agent key rotates; a request to the new key naming an older invitation is refused."""
    from core.vault import seal_key

    grinder.agent_key_sealed = seal_key(SigningKey.generate())
    grinder.save(update_fields=["agent_key_sealed"])
    new_key = keys.recipient_key_ensure(agent=services.agent_for_twin(grinder))
    request = peer.send(request_body(peer, invitation), new_key)
    assert reply_to(request).body["description"]["code"] == "request_not_accepted"
    invitation.refresh_from_db()
    assert invitation.state == Connection.State.INVITED


# -- they invited: our request, their response, our complete --------------------------------------------------------


def peer_invitation_url(peer: Peer, protocols=(oob.DIDEXCHANGE_11, oob.DIDEXCHANGE_10), **changes) -> str:
    invitation = oob.build_invitation(
        label="Peer agent",
        recipient_key=peer.invitation_key.verify_key,
        service_endpoint=PEER_ENDPOINT,
        handshake_protocols=protocols,
    )
    invitation.update(changes)
    return oob.invitation_url(invitation, "https://peer.example/")


def queued(connection: Connection) -> OutboundMessage:
    return OutboundMessage.objects.filter(connection=connection).latest("id")


def test_accepting_an_invitation_queues_a_11_request_with_our_long_form_peer4(agent, peer):
    url = peer_invitation_url(peer)
    connection = outbox.invitation_accept(agent=agent, invitation_url=url)

    invitation = oob.parse_url(url)
    assert connection.role == Connection.Role.REQUESTER
    assert connection.state == Connection.State.REQUESTED
    assert connection.protocol == "1.1"
    assert connection.invitation_id == invitation.id
    assert connection.their_verkey == verkey(peer.invitation_key)
    assert connection.their_endpoint == PEER_ENDPOINT
    assert connection.their_label == "Peer agent"
    request = queued(connection)
    assert request.type == PREFIX + "didexchange/1.1/request"
    assert request.to_verkey == verkey(peer.invitation_key)
    assert request.body["~thread"] == {"thid": request.message_id, "pthid": invitation.id}
    assert connection.thread_id == request.message_id
    assert request.body["label"] == agent.label
    assert request.body["did"] == connection.my_did and connection.my_did.startswith("did:peer:4")
    assert "did_doc~attach" not in request.body
    # It passes the checks a responder makes (ours included): the DID's key is the one we send from.
    assert didexchange.resolve_request_did(request.body).verkeys == (connection.my_verkey,)


def test_a_10_only_invitation_gets_a_10_request_with_a_signed_document(agent, peer):
    connection = outbox.invitation_accept(agent=agent, invitation_url=peer_invitation_url(peer, (oob.DIDEXCHANGE_10,)))
    assert connection.protocol == "1.0"
    request = queued(connection)
    assert request.type == PREFIX + "didexchange/1.0/request"
    assert not request.body["did"].startswith("did:")
    payload, signer = jws.verify_data(request.body["did_doc~attach"]["data"])
    assert verkey_of(signer) == connection.my_verkey
    assert json.loads(payload)["id"] == f"did:sov:{request.body['did']}"
    assert didexchange.resolve_request_did(request.body).verkeys == (connection.my_verkey,)


def test_an_invitation_naming_a_did_peer_2_service_is_answered_at_that_dids_endpoint(agent, peer):
    invitation_key = peer.invitation_key
    did = didpeer.peer2(
        [("V", invitation_key.multibase), ("E", invitation_key.verify_key.to_x25519().multibase)],
        [{"type": "did-communication", "serviceEndpoint": PEER_ENDPOINT, "recipientKeys": ["#key-1"]}],
    )
    connection = outbox.invitation_accept(agent=agent, invitation_url=peer_invitation_url(peer, services=[did]))
    assert connection.their_verkey == verkey(invitation_key)
    assert connection.their_endpoint == PEER_ENDPOINT


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://example.org/?oob=e30", "not an invitation"),
        ("not a url at all", "not an invitation"),
        (lambda peer: peer_invitation_url(peer, ("https://didcomm.org/connections/1.0",)), "no handshake protocol"),
        (
            lambda peer: peer_invitation_url(
                peer, services=[{**oob_service(peer), "serviceEndpoint": "mailto:agent@example.org"}]
            ),
            "not an http(s) or ws(s) URL",
        ),
        (lambda peer: peer_invitation_url(peer, services=["did:web:example.org"]), "service DID cannot be used"),
        (lambda peer: peer_invitation_url(peer, services=["did:peer:4zQmBroken"]), "service DID cannot be used"),
    ],
)
def test_an_invitation_we_cannot_answer_is_refused_with_a_reason(agent, peer, url, says):
    with pytest.raises(exchange.InvitationError, match=says.replace("(", r"\(").replace(")", r"\)")):
        outbox.invitation_accept(agent=agent, invitation_url=url(peer) if callable(url) else url)
    assert not Connection.objects.filter(role=Connection.Role.REQUESTER).exists()
    assert not OutboundMessage.objects.exists()


def oob_service(peer: Peer) -> dict:
    return oob.build_invitation(
        label="x", recipient_key=peer.invitation_key.verify_key, service_endpoint=PEER_ENDPOINT
    )["services"][0]


def test_an_invitation_already_accepted_by_this_agent_is_refused(agent, peer):
    url = peer_invitation_url(peer)
    outbox.invitation_accept(agent=agent, invitation_url=url)
    with pytest.raises(exchange.InvitationError, match="already been accepted"):
        outbox.invitation_accept(agent=agent, invitation_url=url)
    assert Connection.objects.filter(role=Connection.Role.REQUESTER).count() == 1


def test_our_own_invitation_is_refused(agent):
    ours = outbox.invitation_create(agent=agent)
    with pytest.raises(exchange.InvitationError, match="our own invitations"):
        outbox.invitation_accept(agent=agent, invitation_url=ours.invitation_url)


def response_body(
    peer: Peer,
    connection: Connection,
    *,
    did: str | None = None,
    signer: SigningKey | None = None,
    signed_did: str | None = None,
) -> dict:
    did = did or peer.did("1.1")
    body = message("didexchange/1.1/response", did=did)
    body["~thread"] = {"thid": connection.thread_id, "pthid": connection.invitation_id}
    body["did_rotate~attach"] = didexchange.did_rotate_attachment(signed_did or did, signer or peer.invitation_key)
    return body


@pytest.fixture
def requested(agent, peer) -> Connection:
    return outbox.invitation_accept(agent=agent, invitation_url=peer_invitation_url(peer))


def test_a_valid_response_completes_and_our_complete_is_queued(peer, requested):
    body = response_body(peer, requested)
    response = peer.send(body, requested.my_verkey)
    requested.refresh_from_db()
    assert requested.state == Connection.State.COMPLETED
    assert requested.their_did == body["did"]
    assert requested.their_verkey == verkey(peer.key)
    assert requested.their_endpoint == PEER_ENDPOINT
    complete = reply_to(response)
    assert complete.type == PREFIX + "didexchange/1.1/complete"
    assert complete.body["~thread"] == {"thid": requested.thread_id, "pthid": requested.invitation_id}
    assert complete.to_verkey == verkey(peer.key)


def test_a_10_response_with_a_document_signed_by_the_invitation_key_completes(agent, peer):
    connection = outbox.invitation_accept(agent=agent, invitation_url=peer_invitation_url(peer, (oob.DIDEXCHANGE_10,)))
    did = peer.did("1.0")
    body = message("didexchange/1.0/response", did=did)
    body["~thread"] = {"thid": connection.thread_id, "pthid": connection.invitation_id}
    document = didexchange.legacy_document(did, peer.key.verify_key, PEER_ENDPOINT)
    body["did_doc~attach"] = didexchange.did_doc_attachment(document, peer.invitation_key)
    response = peer.send(body, connection.my_verkey)
    connection.refresh_from_db()
    assert connection.state == Connection.State.COMPLETED
    assert connection.their_did == did and connection.their_verkey == verkey(peer.key)
    assert reply_to(response).type == PREFIX + "didexchange/1.0/complete"


def _tampered(body: dict) -> dict:
    body = copy.deepcopy(body)
    data = body["did_rotate~attach"]["data"]
    data["base64"] = base64.b64encode(base64.b64decode(data["base64"]) + b"x").decode()
    return body


OTHER_KEY = SigningKey.generate()


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda peer, c: _tampered(response_body(peer, c)), "does not verify"),
        (lambda peer, c: response_body(peer, c, signer=OTHER_KEY), "not signed by the invitation's key"),
        (lambda peer, c: response_body(peer, c, signed_did=peer.did("1.1", OTHER_KEY)), "signs another did"),
        (lambda peer, c: {k: v for k, v in response_body(peer, c).items() if k != "did_rotate~attach"}, "needs a"),
    ],
)
def test_a_response_that_does_not_verify_is_refused_and_abandons_the_exchange(peer, requested, make, says):
    before = (requested.their_did, requested.their_verkey, requested.their_endpoint)
    response = peer.send(make(peer, requested), requested.my_verkey)
    report = reply_to(response)
    assert report.type == PREFIX + "didexchange/1.1/problem_report"
    assert report.body["description"]["code"] == "response_processing_error"
    assert says in report.body["description"]["en"]
    assert report.to_verkey == verkey(peer.invitation_key)  # back to the inviter, the only peer we know
    requested.refresh_from_db()
    assert requested.state == Connection.State.ABANDONED and says in requested.error
    assert (requested.their_did, requested.their_verkey, requested.their_endpoint) == before


def test_a_response_whose_sender_key_is_not_its_dids_is_refused(peer, requested):
    before = (requested.their_did, requested.their_verkey, requested.their_endpoint)
    response = peer.send(response_body(peer, requested), requested.my_verkey, sender=SigningKey.generate())
    assert "not sent (Authcrypt) with a key of its did" in reply_to(response).body["description"]["en"]
    requested.refresh_from_db()
    assert requested.state == Connection.State.ABANDONED
    assert (requested.their_did, requested.their_verkey, requested.their_endpoint) == before


def test_a_response_on_another_thread_changes_nothing(peer, requested):
    body = response_body(peer, requested)
    body["~thread"]["thid"] = "another-request"
    report = reply_to(peer.send(body, requested.my_verkey))
    assert report.body["description"]["code"] == "response_not_accepted"
    requested.refresh_from_db()
    assert requested.state == Connection.State.REQUESTED and not requested.their_did


def test_the_inviters_problem_report_abandons_the_exchange(peer, requested):
    report = message(
        "didexchange/1.1/problem_report",
        description={"code": "request_not_accepted", "en": "no thanks"},
        **{"~thread": {"thid": requested.thread_id}},
    )
    peer.send(report, requested.my_verkey, sender=peer.invitation_key)
    requested.refresh_from_db()
    assert requested.state == Connection.State.ABANDONED
    assert "request_not_accepted: no thanks" in requested.error


def test_a_problem_report_from_a_stranger_abandons_nothing(peer, requested):
    report = message(
        "didexchange/1.1/problem_report",
        description={"code": "request_not_accepted", "en": "no thanks"},
        **{"~thread": {"thid": requested.thread_id}},
    )
    peer.send(report, requested.my_verkey, sender=SigningKey.generate())
    requested.refresh_from_db()
    assert requested.state == Connection.State.REQUESTED


# -- pure pieces ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        ((oob.DIDEXCHANGE_10, oob.DIDEXCHANGE_11), "1.1"),
        (("https://didcomm.org/didexchange/1.2",), "1.1"),
        (("did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/didexchange/1.0",), "1.0"),
        (("https://didcomm.org/connections/1.0",), None),
        ((), None),
    ],
)
def test_the_invitation_protocol_prefers_11(offered, chosen):
    assert didexchange.invitation_protocol(offered) == chosen


def test_our_peer4_document_names_the_x25519_form_of_the_key_for_key_agreement():
    key = SigningKey.generate()
    document = didpeer.resolve(didexchange.peer4_did(key.verify_key, "https://example.org/didcomm/"))
    methods = {method["id"]: method["publicKeyMultibase"] for method in document["verificationMethod"]}
    assert [methods[ref] for ref in document["authentication"]] == [key.multibase]
    assert [methods[ref] for ref in document["keyAgreement"]] == [key.verify_key.to_x25519().multibase]


@pytest.mark.parametrize(
    ("did", "code"),
    [
        ("did:web:example.org", "e.did.method_unsupported"),
        ("did:peer:4zQmBroken:zAlsoBroken", "e.did.unresolvable"),
        (didpeer.peer4({"verificationMethod": []}), "e.did.doc_unsupported"),
    ],
)
def test_a_did_we_cannot_use_says_why_in_rfc_0794_codes(did, code):
    with pytest.raises(didexchange.ExchangeError) as refused:
        didexchange.resolve_did(did)
    assert refused.value.code == code


def test_a_dids_mediator_routing_keys_are_kept_for_delivery(peer, invitation):
    """RFC 0046: a service's routingKeys (did:key here, as ACA-Py writes a mediated did:peer:2) go with it."""
    mediator = SigningKey.generate()
    key = peer.key
    did = didpeer.peer2(
        [("V", key.multibase), ("E", key.verify_key.to_x25519().multibase)],
        [
            {
                "type": "did-communication",
                "serviceEndpoint": PEER_ENDPOINT,
                "recipientKeys": ["#key-1"],
                "routingKeys": [f"did:key:{mediator.multibase}#{mediator.multibase}"],
            }
        ],
    )
    their = didexchange.resolve_did(did)
    assert their.recipient_verkey == verkey(key)
    assert their.routing_verkeys == (verkey(mediator),)

    body = request_body(peer, invitation)
    body["did"] = did
    peer.send(body, invitation.my_verkey)
    invitation.refresh_from_db()
    assert invitation.state == Connection.State.RESPONDED
    assert invitation.their_routing_keys == [verkey(mediator)]


def test_a_response_from_the_invitation_key_itself_completes_at_the_dids_key(peer, requested):
    """Over a return route ACA-Py answers from the key our request went to: the invitation's, which also signed
    the response's DID. The connection then talks to the DID's key."""
    body = response_body(peer, requested)
    peer.send(body, requested.my_verkey, sender=peer.invitation_key)
    requested.refresh_from_db()
    assert requested.state == Connection.State.COMPLETED
    assert requested.their_did == body["did"] and requested.their_verkey == verkey(peer.key)
