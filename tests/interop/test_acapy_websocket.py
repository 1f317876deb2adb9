"""DIDComm over WebSocket against a real ACA-Py 1.7.0 whose endpoint is a WebSocket (``acapy_ws_agent``).

Thingstead is served by a real ASGI server (uvicorn, in-process: see ``asgi_server_url``), so ACA-Py reaches
both our HTTP endpoint (``/didcomm/``, what our DIDs name) and our WebSocket one (``/didcomm/ws``).

- ACA-Py invites with its ``ws://`` endpoint: we accept (DID Exchange 1.1), and everything we send it goes over a
  WebSocket asking for ``return_route: all``; ACA-Py answers our trust ping on that same socket.
- We invite naming ``ws://…/didcomm/ws``: ACA-Py's request arrives over our consumer.

In both, the connection completes on both sides, then a trust ping with response and a basic message go each
way. Delivery is ``deliver_outbound`` on the ImmediateBackend: it runs at commit, in the thread that committed,
so our side's sends (and what comes back on their sockets) are done when the service call returns.
"""

from __future__ import annotations

import logging
import time
import uuid

import pytest

from didcomm import outbox, services
from didcomm.models import Connection, InboundMessage, OutboundMessage
from ssi import messages, oob


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture
def hooks(acapy_ws_webhooks):
    return acapy_ws_webhooks.webhooks


def outbound_of(connection: Connection) -> list[tuple[str, str, str]]:
    return list(OutboundMessage.objects.filter(connection=connection).values_list("type", "status", "last_error"))


def completed_here(connection: Connection) -> Connection:
    def done():
        connection.refresh_from_db()
        return connection.state in (Connection.State.COMPLETED, Connection.State.ABANDONED)

    wait_until(done)
    assert connection.state == Connection.State.COMPLETED, (connection.state, connection.error, outbound_of(connection))
    return connection


def our_ping_is_answered_on_its_socket(acapy, hooks, connection: Connection, theirs: str, caplog) -> None:
    connection.last_rtt_ms = None
    connection.save(update_fields=["last_rtt_ms"])
    with caplog.at_level(logging.INFO, logger="didcomm.transport"):
        ping = outbox.ping_send(connection=connection)  # delivered (and answered) before this returns
    ping.refresh_from_db()
    assert ping.status == OutboundMessage.Status.SENT, outbound_of(connection)
    assert f"DIDComm outbound {ping.pk}: 1 answer(s) came back on the socket" in caplog.messages
    answer = InboundMessage.objects.get(connection=connection, type__endswith="/ping_response")
    assert answer.body["~thread"]["thid"] == ping.message_id
    connection.refresh_from_db()
    assert connection.last_rtt_ms is not None
    # ACA-Py's ping webhooks name no connection_id for a message that came over a WebSocket session: the thread
    # (our ping's @id, or ACA-Py's own) tells them apart.
    hooks.wait_for("ping", thread_id=ping.message_id, state="received")


def their_ping_is_answered(acapy, hooks, connection: Connection, theirs: str) -> None:
    sent = acapy.admin("POST", f"/connections/{theirs}/send-ping", {"comment": "are you there?"})
    thread_id = sent["thread_id"]
    arrived = wait_until(lambda: InboundMessage.objects.filter(connection=connection, message_id=thread_id).first())
    assert arrived is not None, "ACA-Py's ping did not arrive on our connection"
    hooks.wait_for("ping", thread_id=thread_id, state="response_received")


def messages_both_ways(acapy, hooks, connection: Connection, theirs: str) -> None:
    ours = f"from Thingstead over WebSocket {uuid.uuid4()}"
    outbox.basic_message_send(connection=connection, content=ours)
    hooks.wait_for("basicmessages", connection_id=theirs, content=ours)
    their_text = f"from ACA-Py {uuid.uuid4()}"
    acapy.admin("POST", f"/connections/{theirs}/send-message", {"content": their_text})
    assert wait_until(
        lambda: InboundMessage.objects.filter(
            connection=connection, type=messages.DIDCOMM_PREFIX + messages.BASIC_MESSAGE, body__content=their_text
        ).exists()
    ), "ACA-Py's basic message did not arrive on our connection"


def test_acapy_invites_with_a_websocket_endpoint_and_we_send_over_it_with_return_route(
    asgi_site, grinder, acapy_ws_agent, hooks, caplog
):
    assert acapy_ws_agent.endpoint.startswith("ws://")
    created = acapy_ws_agent.admin(
        "POST",
        "/out-of-band/create-invitation",
        {"handshake_protocols": [oob.DIDEXCHANGE_11], "use_public_did": False, "my_label": "acapy-ws"},
    )
    assert oob.parse_url(created["invitation_url"]).services[0].service_endpoint == acapy_ws_agent.endpoint

    connection = outbox.invitation_accept(
        agent=services.agent_for_twin(grinder), invitation_url=created["invitation_url"]
    )
    connection = completed_here(connection)
    event = hooks.wait_for("connections", invitation_msg_id=created["invi_msg_id"], rfc23_state="completed", timeout=30)
    theirs = event["connection_id"]
    assert connection.their_endpoint == acapy_ws_agent.endpoint
    assert connection.their_label == "acapy-ws"
    # Our request and complete went over ACA-Py's WebSocket (it has no other endpoint), and were delivered.
    assert (
        not OutboundMessage.objects.filter(connection=connection).exclude(status=OutboundMessage.Status.SENT).exists()
    )

    our_ping_is_answered_on_its_socket(acapy_ws_agent, hooks, connection, theirs, caplog)
    their_ping_is_answered(acapy_ws_agent, hooks, connection, theirs)
    messages_both_ways(acapy_ws_agent, hooks, connection, theirs)


def test_acapy_accepts_an_invitation_naming_our_websocket_endpoint_and_sends_over_it(
    asgi_site, grinder, acapy_ws_agent, hooks, caplog
):
    ws_endpoint = asgi_site.replace("http://", "ws://", 1) + "/didcomm/ws"
    connection = outbox.invitation_create(
        agent=services.agent_for_twin(grinder), handshake_protocols=(oob.DIDEXCHANGE_11,), service_endpoint=ws_endpoint
    )
    invitation = oob.parse_url(connection.invitation_url)
    assert invitation.services[0].service_endpoint == ws_endpoint

    record = acapy_ws_agent.admin(
        "POST", "/out-of-band/receive-invitation?auto_accept=true", invitation.message, timeout=20
    )
    theirs = record["connection_id"]
    hooks.wait_for("connections", connection_id=theirs, rfc23_state="completed", timeout=30)
    connection = completed_here(connection)
    # The request could only come over our WebSocket: the invitation names no other endpoint.
    request = InboundMessage.objects.get(connection=connection, type__endswith="/didexchange/1.1/request")
    assert request.body["~thread"]["pthid"] == invitation.id
    assert connection.their_endpoint == acapy_ws_agent.endpoint

    our_ping_is_answered_on_its_socket(acapy_ws_agent, hooks, connection, theirs, caplog)
    their_ping_is_answered(acapy_ws_agent, hooks, connection, theirs)
    messages_both_ways(acapy_ws_agent, hooks, connection, theirs)
