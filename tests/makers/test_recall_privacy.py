"""Privacy of recalls (issue 12): the manufacturer learns counts for owners who are not connected to it, never who
they are; a connected owner is named (by their connection's label) only once they acknowledged.

Everything the organisation can read is checked: the dashboard and recall pages (HTML), and the API's dashboard,
recall list and recall detail, as an admin and as an organisation token."""

from __future__ import annotations

import json

import pytest

from didcomm import keys
from didcomm.models import Connection
from didcomm.services import agent_for_owner
from makers import recalls
from makers.tokens import organisation_token_create
from owners.models import Owner
from sharing.models import ConnectionSubject
from ssi.keys import SigningKey
from ssi.multibase import b58encode
from tests.conftest import api_for, client_for
from tests.makers.test_recalls import produce

pytestmark = pytest.mark.django_db

IDENTIFYING_KEYS = {"owner", "owner_id", "username", "email", "slug", "first_name", "last_name"}


def unconnected_owner(name: str) -> Owner:
    owner = Owner(username=f"{name}-private", email=f"{name}.private@mail.example", first_name=name.title() + "ina")
    owner.set_unusable_password()
    owner.save()
    return owner


def connection_for(organisation, label: str, twin) -> Connection:
    connection = Connection(
        agent=agent_for_owner(organisation.account),
        state=Connection.State.COMPLETED,
        their_label=label,
        their_verkey=b58encode(SigningKey.generate().verify_key.raw),
    )
    keys.pairwise_key_create(connection=connection)
    connection.save()
    ConnectionSubject.objects.create(connection=connection, thing_did=twin.did, twin=twin)
    return connection


def everything_the_organisation_reads(organisation, dora, recall) -> list[str]:
    token, _ = organisation_token_create(organisation=organisation, created_by=dora)
    token_api = api_for(None)
    token_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    pages = client_for(dora)
    texts = [
        pages.get(url).content.decode()
        for url in (
            f"/orgs/{organisation.slug}/dashboard",
            f"/orgs/{organisation.slug}/recalls/",
            f"/orgs/{organisation.slug}/recalls/{recall.pk}/",
        )
    ]
    for client in (api_for(dora), token_api):
        for url in (
            f"/api/orgs/{organisation.slug}/dashboard/",
            f"/api/orgs/{organisation.slug}/recalls/",
            f"/api/orgs/{organisation.slug}/recalls/{recall.pk}/",
        ):
            response = client.get(url)
            assert response.status_code == 200, url
            assert not _keys(response.json()) & IDENTIFYING_KEYS, url
            texts.append(json.dumps(response.json()))
    return texts


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value)) if value else set()
    return set()


def identifiers(owner: Owner, twin) -> list[str]:
    return [owner.username, owner.email, owner.first_name, twin.slug]


def test_nothing_the_manufacturer_reads_identifies_an_unconnected_owner(
    acme, acme_model, dora, django_capture_on_commit_callbacks
):
    hidden = [
        (owner, produce(acme_model, f"000{i}", owner))
        for i, owner in enumerate([unconnected_owner("wilhelm"), unconnected_owner("xaver")], start=1)
    ]
    # One acknowledges locally: still a count only.
    with django_capture_on_commit_callbacks(execute=True):
        recall = recalls.recall_issue(organisation=acme, by=dora, gtin=acme_model.gtin, title="Burr", text="Stop.")
    recalls.recall_acknowledge_local(viewer=hidden[0][0], recall=recall)

    texts = everything_the_organisation_reads(acme, dora, recall)
    for owner, twin in hidden:
        for secret in identifiers(owner, twin):
            for text in texts:
                assert secret not in text, secret
    # It does learn the counts.
    detail = api_for(dora).get(f"/api/orgs/acme/recalls/{recall.pk}/").json()["reach"]
    assert (detail["notified_owners"], detail["acknowledged"], detail["acknowledged_by"]) == (2, 1, [])


def test_a_connected_owner_is_named_only_after_acknowledging(
    acme, acme_model, dora, django_capture_on_commit_callbacks
):
    owner = unconnected_owner("yusuf")
    twin = produce(acme_model, "0001", owner)
    connection = connection_for(acme, "Yusuf's kitchen", twin)
    with django_capture_on_commit_callbacks(execute=True):
        recall = recalls.recall_issue(organisation=acme, by=dora, gtin=acme_model.gtin, title="Burr", text="Stop.")
    assert all(
        "Yusuf&#x27;s kitchen" not in t and "Yusuf's kitchen" not in t
        for t in everything_the_organisation_reads(acme, dora, recall)
    )

    # The ack arrives on the notice's thread (as recall_ack_receive records it).
    from didcomm.handlers import Context
    from didcomm.models import InboundMessage, OutboundMessage
    from ssi import messages

    notice = OutboundMessage.objects.get(connection=connection, type=recalls.NOTICE_TYPE)
    ack = messages.new_message(recalls.ACK, **{"~thread": messages.thread(notice.message_id)})
    inbound = InboundMessage.objects.create(
        agent=connection.agent,
        connection=connection,
        sender_verkey=connection.their_verkey,
        message_id=ack["@id"],
        type=ack["@type"],
        body=ack,
    )
    assert recalls.recall_ack_receive(Context(message=inbound, connection=connection)) is None

    texts = everything_the_organisation_reads(acme, dora, recall)
    assert any("Yusuf" in t for t in texts)
    # Named by the connection's label (and the thing's DID the connection was about), never by the account.
    for secret in (owner.username, owner.email, owner.first_name):
        assert all(secret not in t for t in texts), secret
