"""ssi.issue_credential: the RFC 0453 / RFC 0593 messages of an issuer, built and read back."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from ssi import credentials as vc
from ssi import issue_credential as ic
from ssi.didkey import did_key
from ssi.keys import SigningKey

HOLDER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


@pytest.fixture
def credential() -> dict:
    key = SigningKey.generate()
    unsigned = vc.credential(
        issuer=did_key(key.verify_key),
        subject={"id": HOLDER, "owns": "did:webvh:Qm:x"},
        status={"type": "BitstringStatusListEntry", "statusPurpose": "revocation"},
    )
    return vc.issue(unsigned, key)


def test_an_offer_carries_the_credential_less_its_proof_with_its_proof_and_status_types(credential):
    offer = ic.offer(credential, comment="yours")

    assert offer["@type"] == "https://didcomm.org/issue-credential/2.0/offer-credential"
    assert offer["formats"] == [{"attach_id": "ld_proof", "format": "aries/ld-proof-vc-detail@v1.0"}]
    detail = ic.offer_detail(offer)
    assert "proof" not in detail["credential"] and detail["credential"]["credentialSubject"]["id"] == HOLDER
    assert detail["options"] == {
        "proofType": "DataIntegrityProof",
        "credentialStatus": {"type": "BitstringStatusListEntry"},
    }


def test_the_issue_carries_the_signed_credential_on_the_offers_thread(credential):
    issued = ic.issue(thid="offer-1", credential=credential)

    assert issued["~thread"] == {"thid": "offer-1"} and issued["~please_ack"] == {"on": ["OUTCOME"]}
    assert ic.issued_credential(issued) == credential


def test_a_request_for_exactly_the_offer_passes_and_a_changed_one_says_what_changed(credential):
    offered = ic.detail(credential)
    ic.check_request(offered, copy.deepcopy(offered))

    changed = copy.deepcopy(offered)
    changed["credential"]["validUntil"] = "2099-01-01T00:00:00Z"
    with pytest.raises(ic.IssueCredentialError, match="validUntil"):
        ic.check_request(offered, changed)

    someone_else = copy.deepcopy(offered)
    someone_else["credential"]["credentialSubject"]["id"] = "did:key:z6MkOther"
    with pytest.raises(ic.IssueCredentialError, match=r"credentialSubject\.id"):
        ic.check_request(offered, someone_else)


def test_a_holder_may_name_the_subject_only_where_the_offer_named_none(credential):
    anonymous = copy.deepcopy(credential)
    del anonymous["credentialSubject"]["id"]
    offered = ic.detail(anonymous)
    requested = copy.deepcopy(offered)
    requested["credential"]["credentialSubject"]["id"] = HOLDER

    with pytest.raises(ic.IssueCredentialError, match="credentialSubject"):
        ic.check_request(offered, requested)  # the offered credential is signed: it cannot take a new subject


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "needs formats"),
        (
            {"formats": [{"attach_id": "a", "format": "hlindy/cred-req@v2.0"}], "requests~attach": []},
            "no aries/ld-proof",
        ),
        (
            {"formats": [{"attach_id": "a", "format": ic.LD_PROOF_DETAIL}], "requests~attach": []},
            "which is missing",
        ),
        (
            {
                "formats": [{"attach_id": "a", "format": ic.LD_PROOF_DETAIL}],
                "requests~attach": [{"@id": "a", "data": {"base64": "!!!"}}],
            },
            "not base64 of JSON",
        ),
        (
            {
                "formats": [{"attach_id": "a", "format": ic.LD_PROOF_DETAIL}],
                "requests~attach": [{"@id": "a", "data": {"base64": base64.b64encode(b"[1]").decode()}}],
            },
            "JSON object",
        ),
    ],
)
def test_a_malformed_request_is_refused_with_a_reason(body, reason):
    with pytest.raises(ic.IssueCredentialError, match=reason):
        ic.request_detail(body)


def test_a_problem_reports_text_is_read_as_the_peer_wrote_it():
    body = {"description": {"en": "unsupported proof type", "code": "issuance-abandoned"}}
    assert ic.problem_description(body) == "issuance-abandoned: unsupported proof type"
    assert ic.problem_description({"description": "plain"}) == "plain"
    assert ic.problem_description({}) == ""
    assert json.dumps(ic.problem_description({"description": {"en": "x" * 900}})).count("x") == 500
