"""Handing an owner's credential to a connected wallet over RFC 0453 issue-credential 2.0 (didcomm.issue_credential):
the wallet button and the API offer it; the wallet's request, ack and problem report arrive as real envelopes at
/didcomm/. (The live exchange with ACA-Py is tests/interop/test_acapy_issue_credential.py.)"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from django.test import Client

from credentials.models import OwnershipCredential
from didcomm import keys, services
from didcomm.models import Connection, CredentialExchange, OutboundMessage
from ssi import ed25519_2020, envelope
from ssi import issue_credential as ic
from ssi.didkey import did_key
from ssi.keys import SigningKey
from tests.conftest import api_for
from tests.didcomm.endpoints import closed_port, verkey
from twins import services as twin_services
from twins.identity import agent_key

pytestmark = pytest.mark.django_db

PREFIX = "https://didcomm.org/"


@pytest.fixture
def wallet() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def wallet_connection(alice, wallet) -> Connection:
    """A completed connection of alice's own agent with a wallet (whose endpoint refuses: nothing is delivered)."""
    connection = Connection(
        agent=services.agent_for_owner(alice),
        state=Connection.State.COMPLETED,
        their_verkey=verkey(wallet),
        their_label="Wallet",
        their_endpoint=f"http://127.0.0.1:{closed_port()}/",
    )
    keys.pairwise_key_create(connection=connection)
    connection.save()
    return connection


@pytest.fixture
def credential(grinder) -> OwnershipCredential:
    return OwnershipCredential.objects.get(twin=grinder)


def from_wallet(connection: Connection, wallet: SigningKey, body: dict):
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[connection.my_verkey], from_key=wallet)
    return Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)


def request_for(exchange: CredentialExchange, credential: dict) -> dict:
    raw = json.dumps(ic.detail(credential)).encode()
    return {
        "@type": PREFIX + ic.REQUEST,
        "@id": str(uuid.uuid4()),
        "formats": [{"attach_id": "0", "format": ic.LD_PROOF_DETAIL}],
        "requests~attach": [
            {"@id": "0", "mime-type": "application/json", "data": {"base64": base64.b64encode(raw).decode()}}
        ],
        "~thread": {"thid": exchange.thread_id},
    }


def offer(alice_api, connection: Connection, document) -> dict:
    response = alice_api.post(
        f"/api/connections/{connection.pk}/credential-offers/", {"credential": document}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_the_wallet_button_posts_the_credential_and_the_owner_picks_a_connection(
    alice_client, credential, wallet_connection
):
    page = alice_client.get(f"/credentials/{credential.pk}/").content.decode()
    assert 'data-testid="send-to-wallet"' in page

    choice = alice_client.post("/profile/connections/credentials/send/", {"credential": credential.document})
    assert choice.status_code == 200
    assert f'value="{wallet_connection.pk}"' in choice.content.decode()

    sent = alice_client.post(
        "/profile/connections/credentials/send/",
        {"credential": credential.document, "connection": wallet_connection.pk},
    )
    assert sent.status_code == 200
    assert 'data-testid="send-done"' in sent.content.decode()
    exchange = CredentialExchange.objects.get(connection=wallet_connection)
    assert exchange.state == CredentialExchange.State.OFFER_SENT
    queued = OutboundMessage.objects.get(connection=wallet_connection, message_id=exchange.thread_id)
    assert queued.type == PREFIX + ic.OFFER
    assert ic.offer_detail(queued.body) == ic.detail(credential.data)


def test_the_offered_credential_is_issued_on_the_wallets_request_and_done_on_its_ack(
    alice_api, credential, wallet_connection, wallet
):
    exchange = CredentialExchange.objects.get(pk=offer(alice_api, wallet_connection, credential.data)["id"])
    request = request_for(exchange, credential.data)

    assert from_wallet(wallet_connection, wallet, request).status_code == 200

    issued = OutboundMessage.objects.get(in_reply_to__message_id=request["@id"])
    assert issued.type == PREFIX + ic.ISSUE and issued.body["~thread"] == {"thid": exchange.thread_id}
    assert ic.issued_credential(issued.body) == credential.data  # byte for byte what the twin signed
    exchange.refresh_from_db()
    assert exchange.state == CredentialExchange.State.CREDENTIAL_ISSUED

    ack = {"@type": PREFIX + ic.ACK, "@id": str(uuid.uuid4()), "status": "OK", "~thread": {"thid": exchange.thread_id}}
    assert from_wallet(wallet_connection, wallet, ack).status_code == 200
    assert alice_api.get(f"/api/credential-offers/{exchange.pk}").json()["state"] == "done"


def test_a_request_that_changes_the_credential_gets_a_problem_report_and_nothing_issued(
    alice_api, credential, wallet_connection, wallet
):
    exchange = CredentialExchange.objects.get(pk=offer(alice_api, wallet_connection, credential.data)["id"])
    changed = json.loads(credential.document)
    changed["credentialSubject"]["model"] = "Espresso machine"

    from_wallet(wallet_connection, wallet, request_for(exchange, changed))

    assert not OutboundMessage.objects.filter(type=PREFIX + ic.ISSUE).exists()
    report = OutboundMessage.objects.get(type=PREFIX + ic.PROBLEM_REPORT)
    assert report.body["description"]["code"] == "issuance-abandoned"
    assert "credentialSubject" in report.body["description"]["en"]
    exchange.refresh_from_db()
    assert exchange.state == CredentialExchange.State.ABANDONED and "credentialSubject" in exchange.error


def test_a_request_on_a_thread_with_no_offer_gets_a_problem_report(credential, wallet_connection, wallet):
    stray = CredentialExchange(thread_id=str(uuid.uuid4()))
    request = request_for(stray, credential.data)

    from_wallet(wallet_connection, wallet, request)

    report = OutboundMessage.objects.get(in_reply_to__message_id=request["@id"])
    assert report.type == PREFIX + ic.PROBLEM_REPORT
    assert not CredentialExchange.objects.exists()


def test_the_wallets_problem_report_is_kept_word_for_word_and_shown_to_the_owner(
    alice_api, alice_client, credential, wallet_connection, wallet
):
    exchange = CredentialExchange.objects.get(pk=offer(alice_api, wallet_connection, credential.data)["id"])
    report = {
        "@type": PREFIX + ic.PROBLEM_REPORT,
        "@id": str(uuid.uuid4()),
        "description": {"en": "unsupported proof type", "code": "issuance-abandoned"},
        "~thread": {"thid": exchange.thread_id},
    }

    from_wallet(wallet_connection, wallet, report)

    answer = alice_api.get(f"/api/credential-offers/{exchange.pk}").json()
    assert answer["state"] == "abandoned" and answer["error"] == "issuance-abandoned: unsupported proof type"
    assert not OutboundMessage.objects.filter(in_reply_to__message_id=report["@id"]).exists()
    assert "unsupported proof type" in alice_client.get("/profile/connections/credentials/").content.decode()


def test_a_credential_about_someone_else_is_refused_with_400(bob, credential, wallet_connection):
    bobs_connection = Connection(
        agent=services.agent_for_owner(bob),
        state=Connection.State.COMPLETED,
        their_verkey=verkey(SigningKey.generate()),
        their_endpoint="http://127.0.0.1:9/",
    )
    keys.pairwise_key_create(connection=bobs_connection)
    bobs_connection.save()

    response = api_for(bob).post(
        f"/api/connections/{bobs_connection.pk}/credential-offers/", {"credential": credential.data}, format="json"
    )

    assert response.status_code == 400
    assert "not about you" in response.json()["message"]
    assert not CredentialExchange.objects.exists() and not OutboundMessage.objects.exists()


def test_a_changed_credential_is_refused_with_400(alice_api, alice_client, credential, wallet_connection):
    changed = json.loads(credential.document)
    changed["credentialSubject"]["name"] = "Espresso machine"

    response = alice_api.post(
        f"/api/connections/{wallet_connection.pk}/credential-offers/", {"credential": changed}, format="json"
    )
    page = alice_client.post(
        "/profile/connections/credentials/send/",
        {"credential": json.dumps(changed), "connection": wallet_connection.pk},
    )

    assert response.status_code == 400 and "cannot be sent" in response.json()["message"]
    assert page.status_code == 400 and "cannot be sent" in page.content.decode()
    assert not CredentialExchange.objects.exists()


def test_another_owners_connection_is_a_404(carol, wallet_connection):
    lamp = twin_services.twin_create(owner=carol, name="Lamp")
    carols = OwnershipCredential.objects.get(twin=lamp)

    response = api_for(carol).post(
        f"/api/connections/{wallet_connection.pk}/credential-offers/", {"credential": carols.data}, format="json"
    )

    assert response.status_code == 404
    exchange = CredentialExchange.objects.create(connection=wallet_connection, thread_id="t", document="{}")
    assert api_for(carol).get(f"/api/credential-offers/{exchange.pk}").status_code == 404
    assert not OutboundMessage.objects.exists()


def test_a_removed_connection_is_a_409_with_the_reason(alice_api, credential, wallet_connection):
    wallet_connection.state = Connection.State.ABANDONED
    wallet_connection.save(update_fields=["state"])

    response = alice_api.post(
        f"/api/connections/{wallet_connection.pk}/credential-offers/", {"credential": credential.data}, format="json"
    )

    assert response.status_code == 409 and "removed" in response.json()["message"]
    assert not CredentialExchange.objects.exists()


def test_the_ed25519signature2020_form_carries_the_same_claims_signed_by_the_twins_key(
    alice_api, grinder, credential, wallet_connection
):
    response = alice_api.post(
        f"/api/connections/{wallet_connection.pk}/credential-offers/",
        {"credential": credential.data, "proof_format": "Ed25519Signature2020"},
        format="json",
    )

    assert response.status_code == 201, response.content
    issued = json.loads(CredentialExchange.objects.get(pk=response.json()["id"]).document)
    key = agent_key(grinder).verify_key
    ed25519_2020.verify(issued, key)
    assert issued["issuer"] == did_key(key)
    for claim in ("id", "credentialSubject", "credentialStatus"):
        assert issued[claim] == credential.data[claim]
    assert issued["issuanceDate"] == credential.data["validFrom"]
    offered = OutboundMessage.objects.get(type=PREFIX + ic.OFFER)
    assert ic.offer_detail(offered.body)["options"]["proofType"] == "Ed25519Signature2020"


def test_an_unknown_proof_format_is_refused_with_400(alice_api, credential, wallet_connection):
    response = alice_api.post(
        f"/api/connections/{wallet_connection.pk}/credential-offers/",
        {"credential": credential.data, "proof_format": "RsaSignature2018"},
        format="json",
    )
    assert response.status_code == 400 and "proof_format" in response.json()["message"]
    assert not CredentialExchange.objects.exists()


def test_a_seller_gets_no_newly_signed_form_of_the_credential_a_transfer_ended(
    alice_api, grinder, bob, credential, wallet_connection
):
    grinder.owner = bob  # as a completed transfer leaves it (the twin's key then speaks for bob's thing)
    grinder.save(update_fields=["owner"])

    response = alice_api.post(
        f"/api/connections/{wallet_connection.pk}/credential-offers/",
        {"credential": credential.data, "proof_format": "Ed25519Signature2020"},
        format="json",
    )

    assert response.status_code == 400 and "no longer yours" in response.json()["message"]
    assert not CredentialExchange.objects.exists() and not OutboundMessage.objects.exists()
