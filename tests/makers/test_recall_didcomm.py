"""A recall over DIDComm between two agents of this instance: the organisation's agent and an owner's agent,
connected by a real DID Exchange (invitation, request, response, complete). The notice lands in the owner's
inbox with an Acknowledge button; the ack reaches the manufacturer, which then (and only then) sees who
acknowledged.

The messages travel as real RFC 0019 envelopes: each queued OutboundMessage is packed by
didcomm.transport.pack_outbound and received by didcomm.tasks.receive, the inbound path of every transport. Only
the HTTP hop between the two (the same process) is left out."""

from __future__ import annotations

import pytest
from django.utils import timezone

from didcomm import outbox, services
from didcomm.models import Connection, InboundMessage, OutboundMessage
from didcomm.tasks import receive
from didcomm.transport import pack_outbound
from makers import recalls
from makers.dashboard import recall_reach
from makers.models import RecallNotice
from owners.models import Notification
from sharing.models import ConnectionSubject
from tests.conftest import client_for, make_owner
from tests.makers.test_recalls import produce

pytestmark = pytest.mark.django_db


def pump(limit: int = 50) -> int:
    """Deliver every queued message to its recipient on this instance, answers included, until none is left."""
    delivered = 0
    while delivered < limit:
        queued = OutboundMessage.objects.filter(status=OutboundMessage.Status.QUEUED).order_by("id").first()
        if queued is None:
            return delivered
        raw = pack_outbound(queued)
        OutboundMessage.objects.filter(pk=queued.pk).update(status=OutboundMessage.Status.SENT, sent_at=timezone.now())
        receive(raw=raw)
        delivered += 1
    raise AssertionError("messages keep coming")


@pytest.fixture(autouse=True)
def _no_network(settings):
    # Deliveries the worker would start (on commit) go nowhere: pump() carries the messages instead.
    settings.SITE_URL = "http://127.0.0.1:9"


@pytest.fixture
def olga(db):
    return make_owner("olga")


@pytest.fixture
def connected(acme, olga):
    """The organisation's agent and olga's own agent, connected (olga accepted Acme's invitation)."""
    org_side = outbox.invitation_create(agent=services.agent_for_owner(acme.account))
    owner_side = services.agent_invitation_accept(owner=olga, invitation_url=org_side.invitation_url)
    pump()
    org_side.refresh_from_db()
    owner_side.refresh_from_db()
    assert (org_side.state, owner_side.state) == (Connection.State.COMPLETED, Connection.State.COMPLETED)
    return org_side, owner_side


def test_a_recall_notice_reaches_a_connected_owners_inbox_and_the_ack_reaches_the_manufacturer(
    acme_model, dora, olga, connected, django_capture_on_commit_callbacks
):
    org_side, owner_side = connected
    twin = produce(acme_model, "0001", olga)
    ConnectionSubject.objects.create(
        connection=org_side, thing_did=twin.did, gtin=acme_model.gtin, serial="0001", twin=twin
    )
    with django_capture_on_commit_callbacks(execute=True):
        recall = recalls.recall_issue(
            organisation=acme_model.organisation, by=dora, gtin=acme_model.gtin, title="Burr may crack", text="Stop."
        )
    [sent] = OutboundMessage.objects.filter(connection=org_side, type=recalls.NOTICE_TYPE)
    assert sent.body["recall"] == str(recall.pk) and sent.body["thing"] == twin.did and sent.body["all"] is True
    assert sent.body["@type"] == "https://thingstead.org/didcomm/recall/1.0/notice"
    pump()

    notice = InboundMessage.objects.get(connection=owner_side, type=recalls.NOTICE_TYPE)
    # One inbox item for the thing: the local fan-out's, now with the Acknowledge button (no second item).
    [item] = Notification.objects.filter(owner=olga, kind=Notification.Kind.RECALL)
    assert item.twin_id == twin.pk
    assert (item.action_url, item.action_label) == (f"/recalls/received/{notice.pk}/", "Acknowledge")

    # Before the ack, the manufacturer sees a count, not who.
    reach = recall_reach(recall)
    assert (reach["connected"], reach["acknowledged"], reach["acknowledged_by"]) == (1, 0, [])

    client = client_for(olga)
    page = client.get(item.action_url)
    assert page.status_code == 200 and "Burr may crack" in page.content.decode()
    assert client.post(item.action_url).status_code == 302
    [ack] = OutboundMessage.objects.filter(connection=owner_side, type=recalls.ACK_TYPE)
    assert ack.body["~thread"] == {"thid": notice.message_id}
    pump()

    assert RecallNotice.objects.get(recall=recall, twin=twin).acknowledged_at is not None
    reach = recall_reach(recall)
    assert reach["acknowledged"] == 1
    assert [entry["label"] for entry in reach["acknowledged_by"]] == [org_side.their_label]
    # Acknowledging again sends nothing more.
    client.post(item.action_url)
    assert OutboundMessage.objects.filter(connection=owner_side, type=recalls.ACK_TYPE).count() == 1


def test_a_thing_on_another_instance_is_reached_by_gtin_and_serial_and_its_ack_counted(
    acme_model, dora, olga, connected, django_capture_on_commit_callbacks
):
    org_side, _ = connected
    # The thing lives elsewhere: the connection names it by DID, GTIN and serial only (no local twin).
    ConnectionSubject.objects.create(
        connection=org_side, thing_did="did:webvh:QmX:elsewhere.example:twins:abc", gtin=acme_model.gtin, serial="0042"
    )
    ConnectionSubject.objects.create(
        connection=org_side, thing_did="did:webvh:QmY:elsewhere.example:twins:def", gtin=acme_model.gtin, serial="0099"
    )
    with django_capture_on_commit_callbacks(execute=True):
        recall = recalls.recall_issue(
            organisation=acme_model.organisation,
            by=dora,
            gtin=acme_model.gtin,
            title="Burr",
            text="Stop.",
            serial_from="40",
            serial_to="50",
        )
    [sent] = OutboundMessage.objects.filter(connection=org_side, type=recalls.NOTICE_TYPE)
    assert sent.body["thing"].endswith(":abc") and sent.body["range"] == {"from": "40", "to": "50"}
    pump()
    [item] = Notification.objects.filter(owner=olga, kind=Notification.Kind.RECALL)
    assert item.twin is None and item.action_label == "Acknowledge"
    client_for(olga).post(item.action_url)
    pump()
    reach = recall_reach(recall)
    assert (reach["notified_things"], reach["connected"], reach["acknowledged"]) == (0, 1, 1)


def test_the_fan_out_again_sends_no_second_notice(
    acme_model, dora, olga, connected, django_capture_on_commit_callbacks
):
    org_side, _ = connected
    twin = produce(acme_model, "0001", olga)
    ConnectionSubject.objects.create(connection=org_side, thing_did=twin.did, twin=twin)
    with django_capture_on_commit_callbacks(execute=True):
        recall = recalls.recall_issue(
            organisation=acme_model.organisation, by=dora, gtin=acme_model.gtin, title="Burr", text="Stop."
        )
        recalls.recall_fan_out(recall.pk)
    assert OutboundMessage.objects.filter(connection=org_side, type=recalls.NOTICE_TYPE).count() == 1


def test_a_received_notice_is_404_to_anyone_but_its_owner(
    acme_model, dora, olga, carol, connected, django_capture_on_commit_callbacks
):
    org_side, _ = connected
    twin = produce(acme_model, "0001", olga)
    ConnectionSubject.objects.create(connection=org_side, thing_did=twin.did, twin=twin)
    with django_capture_on_commit_callbacks(execute=True):
        recalls.recall_issue(organisation=acme_model.organisation, by=dora, gtin=acme_model.gtin, title="B", text="S")
    pump()
    notice = InboundMessage.objects.get(type=recalls.NOTICE_TYPE)
    client = client_for(carol)
    assert client.get(f"/recalls/received/{notice.pk}/").status_code == 404
    assert client.post(f"/recalls/received/{notice.pk}/").status_code == 404
    assert not OutboundMessage.objects.filter(type=recalls.ACK_TYPE).exists()


def test_an_ack_on_no_notice_of_ours_gets_a_problem_report(acme, olga, connected):
    from ssi import messages

    _, owner_side = connected
    body = messages.new_message(recalls.ACK, **{"~thread": messages.thread("not-a-notice")})
    outbox.outbound_enqueue(connection=owner_side, body=body)
    pump()
    [answer] = OutboundMessage.objects.filter(in_reply_to__message_id=body["@id"])
    assert answer.body["description"]["code"] == "unknown-notice"
