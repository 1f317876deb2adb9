"""A real ACA-Py agent on loopback (see acapy_live.py) against Thingstead's DIDComm pieces.

ACA-Py invites: its out-of-band invitation parses with ssi.oob and its key resolves with ssi.didkey.
Thingstead invites: ACA-Py accepts the twin's invitation and its DID Exchange request reaches POST /didcomm/ as an
envelope our code opens and stores.
"""

from __future__ import annotations

import time

import pytest

from didcomm import services
from didcomm.models import InboundMessage
from ssi import oob
from ssi.didkey import verify_key_from_did_key
from ssi.multibase import b58encode

DIDEXCHANGE_REQUESTS = {
    "https://didcomm.org/didexchange/1.1/request",
    "https://didcomm.org/didexchange/1.0/request",
}


def wait_until(predicate, *, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


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


def test_acapy_accepts_our_invitation_and_its_didexchange_request_reaches_us(
    transactional_db, live_server, settings, grinder, acapy_agent, acapy_webhooks
):
    settings.SITE_URL = live_server.url
    connection = services.invitation_create(twin=grinder)
    invitation = oob.parse_url(connection.invitation_url)
    assert invitation.services[0].service_endpoint == f"{live_server.url}/didcomm/"

    record = acapy_agent.admin(
        "POST", "/out-of-band/receive-invitation?auto_accept=true", invitation.message, timeout=20
    )
    assert record.get("state") != "abandoned", record

    request = wait_until(lambda: InboundMessage.objects.filter(twin=grinder, type__in=DIDEXCHANGE_REQUESTS).first())
    assert request is not None, (
        f"no DID Exchange request arrived; got {list(InboundMessage.objects.values_list('type', flat=True))}"
    )
    # Opened by ssi.envelope with the twin's invitation key: Authcrypt from ACA-Py's new key for us.
    assert request.sender_verkey
    assert request.body["label"] == "acapy-test"
    thread = request.body["~thread"]
    assert thread["pthid"] == invitation.id
    assert "did" in request.body
    # ACA-Py's side of it: a connection to us, request sent.
    event = acapy_webhooks.webhooks.wait_for("connections", invitation_msg_id=invitation.id, rfc23_state="request-sent")
    assert event["their_label"] == grinder.name
