"""The ownership credential offered to a real ACA-Py 1.7.0 holder over Aries RFC 0453 issue-credential 2.0, in both
forms (eddsa-jcs-2022 as issued; Ed25519Signature2020), and ACA-Py's own verifiers on our proofs.

What ACA-Py 1.7.0 answers, as these tests hold it to:

- issue-credential 2.0 has four formats in ACA-Py: ``indy`` and ``anoncreds`` (AnonCreds, not W3C), ``vc_di``
  (``didcomm/w3c-di-vc-offer@v0.1``: AnonCreds credentials in W3C form, bound to a credential definition on a
  ledger) and ``ld_proof`` (RFC 0593, ``aries/ld-proof-vc-detail@v1.0``). Only ``ld_proof`` can carry a credential
  signed elsewhere. Offered our VC DM 2.0 credential with ``proofType: DataIntegrityProof``, ACA-Py takes the
  offer (``offer-received``) but cannot request it: its ``send-request`` answers 400 "Failed to prepare
  credential. Supported VC 2.0 proof types are: ['Ed25519Signature2020', 'BbsBlsSignature2020']." and it sends us
  an ``issue-credential/2.0/problem-report`` whose only text is ``issuance-abandoned``. Its verifier for
  ``ld_proof`` credentials has no Data Integrity suite at all (Ed25519Signature2018/2020, EcdsaSecp256r1Signature2019,
  BBS+), so a VC 1.1 credential carrying our proof would be refused when it stores it.
- The best form it takes: the same claims re-signed by the twin's key as ``Ed25519Signature2020`` over VC DM 1.1
  (ssi/ed25519_2020.py). It requests it, verifies and stores it on ``store`` (its LD proof suites, did:key resolved
  offline), acks it (our exchange: ``done``); its ``/vc/credentials/verify`` says verified, and not once a claim is
  changed. And it presents it: over present-proof 2.0 (DIF Presentation Exchange) to a second ACA-Py, which verifies
  the presentation. VC DM 1.1 because ACA-Py 1.7 builds every DIF presentation with the VC 1.1 context: it takes a
  VC DM 2.0 credential with Ed25519Signature2020 (issues, verifies, stores it) but cannot present it ("Invalid
  JSON-LD syntax; tried to redefine a protected term", a 500 from ``send-presentation``).
- ACA-Py's ``/vc/di/verify`` (its Data Integrity module, eddsa-jcs-2022 among its cryptosuites) verifies a
  credential our ssi/ signs with eddsa-jcs-2022 under a did:key, and refuses the same credential once changed.
- It cannot check the ownership credential itself here: its did:webvh resolver fetches
  ``https://<the DID's host>/…``, and the test instance's DID names a host only Chromium resolves (FACTS), so the
  call fails: the resolver's error ("…or service not known") is parsed as a DID document, and the admin API
  answers 500.

These tests use the session agent (tests/interop/conftest.py) and, for DIDComm, the live server of
test_acapy_scenarios.py (one request at a time, the database handed back and forth with DB_LOCK).
"""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from credentials.models import OwnershipCredential
from didcomm import issue_credential, services
from didcomm.models import CredentialExchange, InboundMessage
from ssi import credentials as vc
from ssi import issue_credential as ic
from ssi.didkey import did_key, key_url
from ssi.keys import SigningKey
from twins.identity import agent_key

from .acapy_live import AcaPyAgent, AcaPyError, WebhookListener
from .test_acapy_scenarios import admin, live, thingstead_invites, wait_until, webhook  # noqa: F401

pytestmark = pytest.mark.slow

ACAPY_V2_PROOF_TYPES = "Supported VC 2.0 proof types are: ['Ed25519Signature2020', 'BbsBlsSignature2020']."


@pytest.mark.usefixtures("live")
def test_acapy_takes_the_offer_of_the_eddsa_jcs_2022_ownership_credential_but_cannot_request_it(
    grinder, alice, acapy_agent, acapy_webhooks
):
    hooks = acapy_webhooks.webhooks
    credential = OwnershipCredential.objects.get(twin=grinder)
    pair = thingstead_invites(acapy_agent, hooks, services.agent_for_owner(alice), "1.1")

    exchange = issue_credential.credential_offer_send(
        owner=alice, connection_id=pair.ours.pk, document=credential.document
    )

    offered = webhook(hooks, "issue_credential_v2_0", thread_id=exchange.thread_id, state="offer-received")
    assert offered["connection_id"] == pair.theirs and offered["role"] == "holder"
    record = admin(acapy_agent, "GET", f"/issue-credential-2.0/records/{offered['cred_ex_id']}")
    # ACA-Py read our ld_proof attachment as the credential it is, less its proof.
    assert record["cred_ex_record"]["by_format"]["cred_offer"]["ld_proof"] == ic.detail(credential.data)

    with pytest.raises(AcaPyError) as refused:
        admin(acapy_agent, "POST", f"/issue-credential-2.0/records/{offered['cred_ex_id']}/send-request", {})
    assert "400" in str(refused.value) and "Failed to prepare credential" in str(refused.value)
    assert ACAPY_V2_PROOF_TYPES in str(refused.value)

    # It abandons its side with that reason, and tells us only "issuance-abandoned".
    record = admin(acapy_agent, "GET", f"/issue-credential-2.0/records/{offered['cred_ex_id']}")
    assert record["cred_ex_record"]["state"] == "abandoned"
    assert ACAPY_V2_PROOF_TYPES in record["cred_ex_record"]["error_msg"]

    def ended() -> bool:
        exchange.refresh_from_db()
        return exchange.state != CredentialExchange.State.OFFER_SENT

    assert wait_until(ended), exchange.state
    assert exchange.state == CredentialExchange.State.ABANDONED
    assert exchange.error == "issuance-abandoned: issuance-abandoned"
    report = InboundMessage.objects.get(connection=pair.ours, type=f"https://didcomm.org/{ic.PROBLEM_REPORT}")
    assert report.body["description"] == {"en": "issuance-abandoned", "code": "issuance-abandoned"}
    assert report.body["~thread"]["thid"] == exchange.thread_id


def _hand_over_ed25519_form(acapy, hooks, owner, twin) -> dict:
    """The whole exchange of the Ed25519Signature2020 form with ``acapy``, which requests and stores it; returns
    what was issued once our side has ACA-Py's ack."""
    credential = OwnershipCredential.objects.get(twin=twin)
    pair = thingstead_invites(acapy, hooks, services.agent_for_owner(owner), "1.1")
    exchange = issue_credential.credential_offer_send(
        owner=owner,
        connection_id=pair.ours.pk,
        document=credential.document,
        proof_format=issue_credential.ED25519_SIGNATURE_2020,
    )
    offered = webhook(hooks, "issue_credential_v2_0", thread_id=exchange.thread_id, state="offer-received")
    cred_ex_id = offered["cred_ex_id"]
    admin(acapy, "POST", f"/issue-credential-2.0/records/{cred_ex_id}/send-request", {})
    webhook(hooks, "issue_credential_v2_0", cred_ex_id=cred_ex_id, state="credential-received")
    # Storing is where ACA-Py verifies the credential (its LD proof suites, did:key resolved offline).
    admin(acapy, "POST", f"/issue-credential-2.0/records/{cred_ex_id}/store", {})
    webhook(hooks, "issue_credential_v2_0", cred_ex_id=cred_ex_id, state="done")

    def acknowledged() -> bool:
        exchange.refresh_from_db()
        return exchange.state in (CredentialExchange.State.DONE, CredentialExchange.State.ABANDONED)

    assert wait_until(acknowledged), exchange.state
    assert exchange.state == CredentialExchange.State.DONE, exchange.error
    return json.loads(exchange.document)


@pytest.mark.usefixtures("live")
def test_acapy_requests_stores_and_verifies_the_ownership_credential_in_its_ed25519signature2020_form(
    grinder, alice, acapy_agent, acapy_webhooks
):
    credential = OwnershipCredential.objects.get(twin=grinder)

    issued = _hand_over_ed25519_form(acapy_agent, acapy_webhooks.webhooks, alice, grinder)

    # What ACA-Py keeps is what we issued: the twin's claims, the twin's key as issuer, the twin's status entry.
    assert issued in admin(acapy_agent, "GET", "/vc/credentials")["results"]
    assert issued["credentialSubject"] == credential.data["credentialSubject"]
    assert issued["credentialStatus"] == credential.data["credentialStatus"]
    assert issued["issuer"] == did_key(agent_key(grinder).verify_key)
    assert issued["proof"]["type"] == "Ed25519Signature2020"

    # ACA-Py's own verifier says so too; and not once a claim is changed.
    assert admin(acapy_agent, "POST", "/vc/credentials/verify", {"verifiableCredential": issued})["verified"] is True
    changed = copy.deepcopy(issued)
    changed["credentialSubject"]["owns"] = "did:webvh:QmSomethingElse:example.org:twins:x"
    assert admin(acapy_agent, "POST", "/vc/credentials/verify", {"verifiableCredential": changed})["verified"] is False


@pytest.fixture(scope="module")
def verifier_webhooks():
    listener = WebhookListener().start()
    yield listener
    listener.stop()


@pytest.fixture(scope="module")
def acapy_verifier(acapy_python, verifier_webhooks, tmp_path_factory):
    """A second ACA-Py over HTTP (the session's other one listens on WebSocket only, which the holder cannot
    send to): a shop's verifier."""
    agent = AcaPyAgent(
        python=acapy_python,
        workdir=tmp_path_factory.mktemp("acapy-verifier"),
        webhook_url=verifier_webhooks.url,
        label="acapy-verifier",
    ).start()
    yield agent
    agent.stop()


def _presentation_request(twin_did: str) -> dict:
    """DIF Presentation Exchange: one ownership credential of ``twin_did``, as an Ed25519Signature2020 LD proof."""
    return {
        "dif": {
            "options": {"challenge": str(uuid.uuid4()), "domain": "shop.example"},
            "presentation_definition": {
                "id": str(uuid.uuid4()),
                "format": {"ldp_vp": {"proof_type": ["Ed25519Signature2020"]}},
                "input_descriptors": [
                    {
                        "id": "ownership",
                        "name": "Ownership of the thing",
                        "schema": [{"uri": "https://www.w3.org/2018/credentials#VerifiableCredential"}],
                        "constraints": {
                            "fields": [
                                {"path": ["$.credentialSubject.owns"], "filter": {"type": "string", "const": twin_did}}
                            ]
                        },
                    }
                ],
            },
        }
    }


@pytest.mark.usefixtures("live")
def test_acapy_presents_the_ed25519signature2020_form_to_another_acapy_which_verifies_it(
    grinder, alice, acapy_agent, acapy_webhooks, acapy_verifier, verifier_webhooks
):
    holder_hooks, shop_hooks = acapy_webhooks.webhooks, verifier_webhooks.webhooks
    issued = _hand_over_ed25519_form(acapy_agent, holder_hooks, alice, grinder)

    # The holder's wallet connects to the shop's (DID Exchange 1.1 between the two ACA-Pys).
    invitation = admin(
        acapy_verifier,
        "POST",
        "/out-of-band/create-invitation",
        {"handshake_protocols": ["https://didcomm.org/didexchange/1.1"], "use_public_did": False},
    )
    admin(acapy_agent, "POST", "/out-of-band/receive-invitation?auto_accept=true", invitation["invitation"], timeout=20)
    shop_side = webhook(
        shop_hooks, "connections", invitation_msg_id=invitation["invi_msg_id"], rfc23_state="completed", timeout=30
    )

    # The shop asks for ownership of this thing; the holder answers, signing the presentation with a key of its own.
    request = admin(
        acapy_verifier,
        "POST",
        "/present-proof-2.0/send-request",
        {"connection_id": shop_side["connection_id"], "presentation_request": _presentation_request(grinder.did)},
    )
    asked = webhook(holder_hooks, "present_proof_v2_0", thread_id=request["thread_id"], state="request-received")
    signing = admin(acapy_agent, "POST", "/wallet/did/create", {"method": "key", "options": {"key_type": "ed25519"}})
    admin(
        acapy_agent,
        "POST",
        f"/present-proof-2.0/records/{asked['pres_ex_id']}/send-presentation",
        {"dif": {"issuer_id": signing["result"]["did"]}},
    )
    webhook(shop_hooks, "present_proof_v2_0", pres_ex_id=request["pres_ex_id"], state="presentation-received")
    verdict = admin(
        acapy_verifier, "POST", f"/present-proof-2.0/records/{request['pres_ex_id']}/verify-presentation", {}
    )

    # (ACA-Py removes a finished exchange at once: the answer's state is already "deleted"; its webhook said "done".)
    done = webhook(shop_hooks, "present_proof_v2_0", pres_ex_id=request["pres_ex_id"], state="done")
    assert verdict["verified"] == "true" and done["verified"] == "true", (verdict.get("verified_msgs"), done)
    presented = verdict["by_format"]["pres"]["dif"]
    assert presented["verifiableCredential"] == [issued]
    assert presented["proof"]["verificationMethod"].startswith(signing["result"]["did"])


def _did_key_credential() -> dict:
    key = SigningKey.generate()
    did = key_url(key.verify_key).partition("#")[0]
    subject = {"id": did, "owns": "did:webvh:QmExample:example.org:twins:x", "name": "Coffee grinder"}
    return vc.issue(vc.credential(issuer=did, subject=subject, types=["OwnershipCredential"]), key)


def test_acapy_verifies_an_eddsa_jcs_2022_credential_signed_by_ssi_and_refuses_it_changed(acapy_agent):
    signed = _did_key_credential()

    answer = acapy_agent.admin("POST", "/vc/di/verify", {"securedDocument": signed})

    results = answer["verificationResults"]
    assert results["verified"] is True
    assert [r["proof"]["cryptosuite"] for r in results["results"]] == ["eddsa-jcs-2022"]

    changed = copy.deepcopy(signed)
    changed["credentialSubject"]["name"] = "Espresso machine"
    with pytest.raises(AcaPyError) as refused:
        acapy_agent.admin("POST", "/vc/di/verify", {"securedDocument": changed})
    assert '"verified": false' in str(refused.value) and "400" in str(refused.value)


def test_acapy_cannot_verify_the_ownership_credential_here_as_it_cannot_fetch_the_twins_did_webvh(grinder, acapy_agent):
    credential = OwnershipCredential.objects.get(twin=grinder)
    assert credential.data["issuer"].startswith("did:webvh:")

    with pytest.raises(AcaPyError) as failed:
        acapy_agent.admin("POST", "/vc/di/verify", {"securedDocument": credential.data})

    assert "POST /vc/di/verify: 500" in str(failed.value)
    # Its resolver's answer (a resolution error instead of a DID document) then fails to parse: the 500.
    log = acapy_agent.log_tail(400)
    assert "or service not known" in log and "Failed to deserialize NonconformantDocument" in log
