"""The verifier: each verdict with its own words, in the API and on the page; bad input is a 400, never a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from credentials.models import VerifierPolicy, VerifierSession
from credentials.services import presentation_build, verifier_session_start
from ssi import credentials as vc
from ssi import webvh
from ssi.keys import SigningKey
from tests.credentials.helpers import standing, twin_issued
from twins import services
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db
API = "/api/credentials/verify"


def api(body, **extra) -> tuple[int, dict]:
    response = Client().post(API, json.dumps(body), content_type="application/json", **extra)
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def page(document, *, policy: VerifierPolicy | None = None) -> tuple[int, str]:
    data = {"document": json.dumps(document), "action": "check"}
    if policy is not None:
        data["policy"] = policy.public_id
    response = Client().post("/verify/credential", data)
    return response.status_code, response.content.decode()


def both(document, verdict: str, words: str, *, policy: VerifierPolicy | None = None) -> dict:
    body = {"credential": document, **({"policy": policy.public_id} if policy else {})}
    status, answer = api(body)
    assert status == 200, answer
    assert answer["verdict"] == verdict, answer
    assert words in answer["headline"] + " " + answer["reason"], answer
    status, html = page(document, policy=policy)
    assert status == 200
    assert f'data-verdict="{verdict}"' in html
    assert answer["headline"] in html
    return answer


@pytest.fixture
def encore(alice):
    return services.twin_create(owner=alice, name="Kitchen grinder", model_name="Baratza Encore", serial="E-1")


@pytest.fixture
def shop(carol):
    return VerifierPolicy.objects.create(owner=carol, name="Acme grinder discount", accepted_models=["Baratza Encore"])


def test_valid_credential_names_the_thing_and_holder(encore):
    answer = both(standing(encore).data, "valid", "Valid")
    assert answer["issuer"] == encore.did
    assert answer["subject"]["model"] == "Baratza Encore" and answer["subject"]["serial"] == "E-1"


def test_tampered_credential(encore):
    doc = standing(encore).data
    doc["credentialSubject"]["model"] = "Baratza Virtuoso"
    answer = both(doc, "tampered", "altered")
    assert answer["subject"] == {}, "claims of a forged credential are not repeated"


def test_revoked_credential(encore, alice, bob):
    sellers = standing(encore).data
    offer_accept(offer=offer_create(twin=encore, seller=alice, redact_kinds=[]), buyer=bob)
    both(sellers, "revoked", "revoked")


def test_policy_accepts_its_model_and_refuses_others(encore, grinder, shop):
    both(standing(encore).data, "valid", "Valid", policy=shop)
    both(standing(grinder).data, "untrusted_issuer", "Not accepted here", policy=shop)


def test_policy_refuses_a_did_key_issuer_claiming_the_model(shop):
    key = SigningKey.generate()
    forged_shop = vc.issue(
        vc.credential(
            issuer=vc.key_url(key.verify_key).partition("#")[0],
            subject={"id": "did:example:x", "model": "Baratza Encore"},
            types=["OwnershipCredential"],
        ),
        key,
    )
    both(forged_shop, "untrusted_issuer", "not issued by a thing", policy=shop)


def test_expired_and_not_yet_valid(encore):
    now = datetime.now(UTC)
    both(twin_issued(encore, valid_until=now - timedelta(days=1)), "expired", "expired on")
    both(twin_issued(encore, valid_from=now + timedelta(days=3)), "not_yet_valid", "not valid until")


def test_foreign_did_webvh_cannot_be_checked(db):
    key = SigningKey.generate()
    state = webvh.create(
        signer=key, domain="elsewhere.example", path=("things", "x"), document=None, update_keys=[key.multibase]
    )
    doc = vc.issue(
        vc.credential(issuer=state.did, subject={"id": "did:example:holder"}),
        key,
        verification_method=f"{state.did}#key-1",
    )
    both(doc, "cannot_check", "Cannot check")


def _presentation(encore, alice, *, challenge: str, domain: str) -> dict:
    document, signed = presentation_build(credential=standing(encore), owner=alice, challenge=challenge, domain=domain)
    assert signed
    return document


def test_presentation_round_trip_through_the_verifier_session(encore, alice, shop):
    client = Client()
    started = client.post(f"/verify/credential?policy={shop.public_id}", {"action": "start"})
    assert started.status_code == 302
    session = VerifierSession.objects.get()
    assert session.policy == shop
    shown = client.get(started["Location"]).content.decode()
    assert session.challenge in shown and session.domain in shown
    vp = _presentation(encore, alice, challenge=session.challenge, domain=session.domain)
    html = client.post(started["Location"], {"document": json.dumps(vp)}).content.decode()
    assert 'data-verdict="valid"' in html
    # The challenge is spent: the same presentation again is refused.
    again = client.post(started["Location"], {"document": json.dumps(vp)})
    assert again.status_code == 400 and "finished" in again.content.decode()


def test_wrong_challenge_and_wrong_domain_in_page_and_api(encore, alice):
    session = verifier_session_start()
    for challenge, domain, verdict, words in (
        ("not-the-one", session.domain, "wrong_challenge", "different request"),
        (session.challenge, "shop.example", "wrong_domain", "made for"),
    ):
        vp = _presentation(encore, alice, challenge=challenge, domain=domain)
        html = Client().post(f"/verify/credential/{session.public_id}", {"document": json.dumps(vp)}).content
        assert f'data-verdict="{verdict}"'.encode() in html
        status, answer = api({"presentation": vp, "challenge": session.challenge, "domain": session.domain})
        assert status == 200 and answer["verdict"] == verdict and words in answer["reason"], answer


def test_someone_elses_credential_in_a_valid_presentation_is_refused(encore, bob):
    key = SigningKey.generate()
    vp = vc.present([standing(encore).data], key, challenge="c", domain="d")
    status, answer = api({"presentation": vp, "challenge": "c", "domain": "d"})
    assert status == 200 and answer["verdict"] == "wrong_holder", answer


def test_expired_session_is_a_404(db):
    session = verifier_session_start()
    VerifierSession.objects.filter(pk=session.pk).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert Client().get(f"/verify/credential/{session.public_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("{not json", "JSON"),
        ("[1, 2]", ""),
        (json.dumps({"credential": {"hello": "world"}}), "not a verifiable credential"),
        (json.dumps({"credential": "a string"}), "credential"),
        (json.dumps({}), "exactly one"),
        (json.dumps({"presentation": {"type": "VerifiablePresentation"}}), "challenge"),
        (json.dumps({"credential": {"type": ["VerifiableCredential"]}, "policy": "nosuch"}), "policy"),
        (json.dumps({"credential": {"x": "y" * 300_000}}), "KiB"),
    ],
)
def test_bad_input_is_a_400_with_a_clear_message(db, body, words):
    response = Client().post(API, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert words in response.json()["message"]


def test_bad_input_on_the_page_is_a_400_with_a_clear_message(db):
    for text, words in (("{not json", "not JSON"), ('{"a": 1}', "not a verifiable credential"), ("", "Paste")):
        response = Client().post("/verify/credential", {"document": text, "action": "check"})
        assert response.status_code == 400
        assert words in response.content.decode()
