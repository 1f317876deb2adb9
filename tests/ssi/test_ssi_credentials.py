"""W3C Verifiable Credentials 2.0 with eddsa-jcs-2022: issuing, presenting, and every verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ssi_proofs import VEC, _vec  # the W3C vector files and their reader, shared with the proofs test

from ssi import credentials as vc
from ssi import statuslist, webvh
from ssi.credentials import Verdict
from ssi.didkey import did_key
from ssi.keys import SigningKey

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 1, tzinfo=UTC)
LIST_URL = "https://issuer.example/status/1"


def key(n: int) -> SigningKey:
    return SigningKey.from_seed(n.to_bytes(32, "big"))


ACME = key(11)  # the manufacturer, issuing with did:key
ACME_DID = did_key(ACME.verify_key)
BOB = key(12)  # the holder


def warranty(**kw) -> dict:
    args = {
        "issuer": ACME_DID,
        "subject": {"id": "did:example:grinder", "model": "G-200", "serial": "A123"},
        "types": ["WarrantyCredential"],
        "id": "urn:uuid:0b6a4d7e-1111-4c2a-9e59-000000000001",
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": "2027-03-03T12:00:00Z",
    } | kw
    return vc.issue(vc.credential(**args), ACME, created="2026-01-01T00:00:00Z")


def status_list(revoked: list[int], issuer: SigningKey = ACME) -> dict:
    bits = statuslist.Bitstring()
    for i in revoked:
        bits.set(i)
    unsigned = statuslist.list_credential(
        url=LIST_URL, issuer=did_key(issuer.verify_key), bits=bits, valid_from="2026-01-01T00:00:00Z"
    )
    return vc.issue(unsigned, issuer, created="2026-01-01T00:00:00Z")


# -- the W3C eddsa-jcs-2022 vector, through the credential API ------------------------------------------------


def test_issuing_the_w3c_vector_gives_its_signed_credential_byte_for_byte():
    kp = json.loads((VEC / "keyPair.json").read_text())
    vector_key = SigningKey.from_multibase(kp["privateKeyMultibase"])
    unsigned = json.loads((VEC / "unsigned.json").read_text())
    signed = json.loads(_vec("signedJCS.json"))
    ours = vc.issue(
        unsigned, vector_key, verification_method=signed["proof"]["verificationMethod"], created="2023-02-24T23:36:38Z"
    )
    assert ours == signed
    assert ours["proof"]["proofValue"] == _vec("sigBTC58JCS.txt")


def test_the_w3c_vector_verifies_but_its_web_address_issuer_cannot_be_confirmed_offline():
    text = _vec("signedJCS.json")
    result = vc.verify_credential(text, now=NOW)
    assert result.verdict is Verdict.CANNOT_CHECK
    assert "signature is intact" in result.reason and "https://vc.example/issuers/5678" in result.reason
    changed = text.replace("The School of Examples", "The School of Exampler")
    assert vc.verify_credential(changed, now=NOW).verdict is Verdict.TAMPERED


# -- one credential per verdict ------------------------------------------------------------------------------


def test_a_fresh_credential_is_valid_and_says_who_issued_it():
    result = vc.verify_credential(warranty(), now=NOW)
    assert result.verdict is Verdict.VALID, result
    assert result.reason == f"Valid credential issued by {ACME_DID}, valid until 3 March 2027."
    assert result.line().startswith("OK: Valid credential")


def test_a_changed_byte_of_the_subject_is_tampered():
    text = json.dumps(warranty())
    assert '"serial": "A123"' in text
    result = vc.verify_credential(text.replace('"serial": "A123"', '"serial": "A124"'), now=NOW)
    assert result.verdict is Verdict.TAMPERED
    assert result.reason == "This credential has been altered or was not signed by its issuer: do not accept it."
    assert "does not verify" in result.detail


def test_an_expired_credential_says_when_it_expired():
    result = vc.verify_credential(warranty(), now=datetime(2027, 3, 4, tzinfo=UTC))
    assert result.verdict is Verdict.EXPIRED
    assert result.reason == "This credential expired on 3 March 2027."
    assert result.line() == "FAIL: expired: This credential expired on 3 March 2027."


def test_a_credential_from_the_future_is_not_yet_valid():
    result = vc.verify_credential(warranty(valid_from="2026-09-15T00:00:00Z"), now=NOW)
    assert result.verdict is Verdict.NOT_YET_VALID
    assert result.reason == "This credential is not valid until 15 September 2026."


def test_a_credential_revoked_through_its_status_list_is_revoked():
    cred = warranty(status=statuslist.status_entry(url=LIST_URL, index=99_999))
    result = vc.verify_credential(cred, status_lists=[status_list([99_999])], now=NOW)
    assert result.verdict is Verdict.REVOKED
    assert result.reason == "The issuer has revoked this credential."
    assert vc.verify_credential(cred, status_lists=[status_list([99_998])], now=NOW).ok


def test_a_credential_whose_status_list_is_missing_cannot_be_checked():
    cred = warranty(status=statuslist.status_entry(url=LIST_URL, index=7))
    result = vc.verify_credential(cred, now=NOW)
    assert result.verdict is Verdict.CANNOT_CHECK
    assert result.reason == f"Cannot check whether it was revoked: the status list {LIST_URL} was not supplied."


def test_a_status_list_published_by_someone_else_proves_nothing():
    cred = warranty(status=statuslist.status_entry(url=LIST_URL, index=7))
    result = vc.verify_credential(cred, status_lists=[status_list([], issuer=key(99))], now=NOW)
    assert result.verdict is Verdict.CANNOT_CHECK and "someone else" in result.reason


def test_a_forged_status_list_is_not_used():
    cred = warranty(status=statuslist.status_entry(url=LIST_URL, index=7))
    forged = status_list([7])
    forged["credentialSubject"]["encodedList"] = status_list([])["credentialSubject"]["encodedList"]
    result = vc.verify_credential(cred, status_lists=[forged], now=NOW)
    assert result.verdict is Verdict.CANNOT_CHECK and "not usable" in result.reason


def test_an_issuer_outside_the_policy_is_untrusted():
    policy = vc.IssuerPolicy(issuers={did_key(key(99).verify_key)})
    result = vc.verify_credential(warranty(), policy=policy, now=NOW)
    assert result.verdict is Verdict.UNTRUSTED_ISSUER
    assert result.reason == f"Not accepted here: It was issued by {ACME_DID}, which is not an issuer you accept."


def test_a_subject_model_outside_the_policy_is_untrusted_and_inside_it_valid():
    refuse = vc.IssuerPolicy(issuers={ACME_DID}, subject={"model": {"G-100", "G-150"}})
    accept = vc.IssuerPolicy(issuers={ACME_DID}, subject={"model": {"G-200"}}, types={"WarrantyCredential"})
    assert vc.verify_credential(warranty(), policy=refuse, now=NOW).verdict is Verdict.UNTRUSTED_ISSUER
    assert vc.verify_credential(warranty(), policy=accept, now=NOW).ok


def test_a_plain_function_is_a_policy_too():
    result = vc.verify_credential(warranty(), policy=lambda c: "we only take paper warranties.", now=NOW)
    assert result.verdict is Verdict.UNTRUSTED_ISSUER and result.reason.endswith("paper warranties.")


def test_a_credential_signed_by_a_key_not_of_its_issuer_is_tampered():
    unsigned = vc.credential(issuer=ACME_DID, subject={"id": "did:example:x"})
    forged = vc.issue(unsigned | {"issuer": did_key(key(66).verify_key)}, key(66)) | {"issuer": ACME_DID}
    result = vc.verify_credential(forged, now=NOW)
    assert result.verdict is Verdict.TAMPERED and "not a key of" in result.detail


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.pop("proof"),
        lambda c: c["proof"].update(proofPurpose="authentication"),
        lambda c: c["proof"].update(cryptosuite="eddsa-rdfc-2022"),
        lambda c: c.update({"@context": ["https://www.w3.org/2018/credentials/v1"]}),
        lambda c: c.update(type=["AlumniCredential"]),
        lambda c: c.update(validUntil="2027-03-03"),
        lambda c: c.update(credentialSubject=[]),
        lambda c: c["proof"].update(proofValue="u" + "A" * 86),
    ],
)
def test_malformed_credentials_are_tampered_never_a_crash(mutate):
    cred = warranty()
    mutate(cred)
    assert vc.verify_credential(cred, now=NOW).verdict is Verdict.TAMPERED


def test_garbage_is_tampered():
    for text in ("{not json", "[]", "null", '{"type": 5}'):
        assert vc.verify_credential(text, now=NOW).verdict is Verdict.TAMPERED


# -- presentations --------------------------------------------------------------------------------------------


def presentation(challenge="c-1f3a", domain="shop.example", creds=None) -> dict:
    return vc.present(creds or [warranty()], BOB, challenge=challenge, domain=domain, created="2026-05-31T10:00:00Z")


def test_a_presentation_for_this_verifier_is_valid():
    result = vc.verify_presentation(presentation(), challenge="c-1f3a", domain="shop.example", now=NOW)
    assert result.ok, result
    assert result.reason == f"Presented by {did_key(BOB.verify_key)} with 1 valid credential."
    assert [r.verdict for r in result.credentials] == [Verdict.VALID]


def test_a_presentation_for_another_request_has_the_wrong_challenge():
    result = vc.verify_presentation(presentation(), challenge="c-9999", domain="shop.example", now=NOW)
    assert result.verdict is Verdict.WRONG_CHALLENGE
    assert result.reason == "This presentation was made for a different request: ask the customer to show it again."


def test_a_presentation_for_another_shop_has_the_wrong_domain():
    result = vc.verify_presentation(presentation(domain="evil.example"), challenge="c-1f3a", domain="shop.example")
    assert result.verdict is Verdict.WRONG_DOMAIN
    assert "'evil.example', not for 'shop.example'" in result.reason


def test_a_presentation_whose_challenge_was_edited_is_tampered():
    vp = presentation(challenge="c-old")
    vp["proof"]["challenge"] = "c-1f3a"
    assert vc.verify_presentation(vp, challenge="c-1f3a", domain="shop.example").verdict is Verdict.TAMPERED


def test_a_presentation_signed_for_authentication_only():
    vp = presentation()
    vp["proof"]["proofPurpose"] = "assertionMethod"
    assert vc.verify_presentation(vp, challenge="c-1f3a", domain="shop.example").verdict is Verdict.TAMPERED


def test_a_presentation_reports_its_first_bad_credential():
    expired = warranty(valid_until="2026-02-01T00:00:00Z")
    vp = presentation(creds=[warranty(), expired])
    result = vc.verify_presentation(vp, challenge="c-1f3a", domain="shop.example", now=NOW)
    assert result.verdict is Verdict.EXPIRED
    assert result.reason == "Credential 2 of 2: This credential expired on 1 February 2026."
    assert [r.verdict for r in result.credentials] == [Verdict.VALID, Verdict.EXPIRED]


def test_a_credential_changed_inside_a_presentation_breaks_the_presentation():
    vp = presentation()
    vp["verifiableCredential"][0]["credentialSubject"]["model"] = "G-900"
    assert vc.verify_presentation(vp, challenge="c-1f3a", domain="shop.example").verdict is Verdict.TAMPERED


# -- did:webvh issuers, resolved from a local log -------------------------------------------------------------


def acme_log() -> webvh.LogState:
    """acme's did:webvh: key-1 is key(21) until 2026-03-01, then key(22)."""
    tmpl = webvh.document_for(
        webvh.make_did(webvh.SCID_PLACEHOLDER, "acme.example", ("issuer",)), signing_keys=[key(21).verify_key]
    )
    log = webvh.create(
        signer=key(20), domain="acme.example", path=("issuer",), document=tmpl, version_time="2026-01-01T00:00:00Z"
    )
    return webvh.update(
        log,
        signer=key(20),
        document=webvh.document_for(log.did, signing_keys=[key(22).verify_key]),
        version_time="2026-03-01T00:00:00Z",
    )


def webvh_credential(log: webvh.LogState, signer: SigningKey, created: str) -> dict:
    unsigned = vc.credential(issuer=log.did, subject={"id": "did:example:grinder", "model": "G-200"})
    return vc.issue(unsigned, signer, verification_method=f"{log.did}#key-1", created=created)


def test_a_did_webvh_issued_credential_verifies_against_the_local_log():
    log = acme_log()
    resolver = vc.log_resolver(log)
    after = webvh_credential(log, key(22), "2026-04-01T00:00:00Z")
    before = webvh_credential(log, key(21), "2026-02-01T00:00:00Z")
    assert vc.verify_credential(after, resolver=resolver, now=NOW).ok
    # Signed while key(21) was key-1: still valid after the rotation.
    assert vc.verify_credential(before, resolver=resolver, now=NOW).ok


def test_a_rotated_out_key_cannot_sign_after_the_rotation_nor_a_new_key_before_it():
    log = acme_log()
    resolver = vc.log_resolver(log)
    late = webvh_credential(log, key(21), "2026-04-01T00:00:00Z")
    early = webvh_credential(log, key(22), "2026-02-01T00:00:00Z")
    prehistoric = webvh_credential(log, key(21), "2025-12-01T00:00:00Z")
    for cred in (late, early, prehistoric):
        assert vc.verify_credential(cred, resolver=resolver, now=NOW).verdict is Verdict.TAMPERED


def test_a_did_webvh_credential_without_its_log_cannot_be_checked():
    log = acme_log()
    cred = webvh_credential(log, key(22), "2026-04-01T00:00:00Z")
    result = vc.verify_credential(cred, now=NOW)
    assert result.verdict is Verdict.CANNOT_CHECK
    assert "without its DID log" in result.reason


# -- properties -----------------------------------------------------------------------------------------------

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
subjects = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda k: k != "id"),
    st.one_of(
        st.text(max_size=20),
        st.integers(-(2**53) + 1, 2**53 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
    ),
    min_size=1,
    max_size=5,
)


@PROPS
@given(subjects)
def test_any_subject_round_trips_through_json_text(subject):
    cred = vc.issue(vc.credential(issuer=ACME_DID, subject=subject), ACME)
    assert vc.verify_credential(json.dumps(cred, ensure_ascii=False), now=NOW).ok
    assert vc.verify_credential(cred, now=NOW).ok


@PROPS
@given(subjects, st.data())
def test_any_changed_subject_value_is_tampered(subject, data):
    cred = vc.issue(vc.credential(issuer=ACME_DID, subject=subject), ACME)
    name = data.draw(st.sampled_from(sorted(subject)))
    new = data.draw(st.text(max_size=20).filter(lambda v: v != subject[name]))
    cred["credentialSubject"][name] = new
    assert vc.verify_credential(cred, now=NOW).verdict is Verdict.TAMPERED


# -- the CLI --------------------------------------------------------------------------------------------------


def run_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "ssi.verify", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def test_cli_verifies_credentials_and_presentations(tmp_path):
    log = acme_log()
    (tmp_path / "did.jsonl").write_text(log.jsonl())
    cred = webvh_credential(log, key(22), "2026-04-01T00:00:00Z")
    cred = vc.issue(
        {k: v for k, v in cred.items() if k != "proof"}
        | {"credentialStatus": statuslist.status_entry(url=LIST_URL, index=99_999)},
        key(22),
        verification_method=f"{log.did}#key-1",
        created="2026-04-01T00:00:00Z",
    )
    bits = statuslist.Bitstring()
    unsigned_list = statuslist.list_credential(url=LIST_URL, issuer=log.did, bits=bits)
    lst = vc.issue(unsigned_list, key(22), verification_method=f"{log.did}#key-1", created="2026-04-01T00:00:00Z")
    (tmp_path / "cred.json").write_text(json.dumps(cred))
    (tmp_path / "list.json").write_text(json.dumps(lst))
    opts = ("--did-log", "did.jsonl", "--status-list", "list.json", "--now", "2026-06-01T00:00:00Z")

    ok = run_cli("cred.json", *opts, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout == f"OK: Valid credential issued by {log.did}.\n"

    no_log = run_cli("cred.json", "--status-list", "list.json", cwd=tmp_path)
    assert no_log.returncode == 3 and no_log.stdout.startswith("FAIL: cannot_check: ")

    bits.set(99_999)
    revoked = vc.issue(
        statuslist.list_credential(url=LIST_URL, issuer=log.did, bits=bits),
        key(22),
        verification_method=f"{log.did}#key-1",
    )
    (tmp_path / "list.json").write_text(json.dumps(revoked))
    result = run_cli("cred.json", *opts, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "FAIL: revoked: The issuer has revoked this credential.\n")

    (tmp_path / "vp.json").write_text(json.dumps(presentation()))
    vp_ok = run_cli(
        "vp.json", "--challenge", "c-1f3a", "--domain", "shop.example", "--now", "2026-06-01T00:00:00Z", cwd=tmp_path
    )
    assert vp_ok.returncode == 0, vp_ok.stdout
    assert vp_ok.stdout.startswith("OK: Presented by did:key:")
    wrong = run_cli("vp.json", "--challenge", "c-0000", "--domain", "shop.example", cwd=tmp_path)
    assert wrong.returncode == 1 and wrong.stdout.startswith("FAIL: wrong_challenge: ")
    missing = run_cli("vp.json", cwd=tmp_path)
    assert missing.returncode == 3 and "--challenge and --domain" in missing.stdout


# -- holder binding and presenting with the CLI ---------------------------------------------------------------


def ownership_of(holder: SigningKey) -> dict:
    """A credential about its holder (as ownership credentials are)."""
    return warranty(subject={"id": did_key(holder.verify_key), "owns": "did:example:grinder"})


def test_a_credential_about_its_holder_shown_by_someone_else_is_the_wrong_holder():
    vp = presentation(creds=[ownership_of(key(13))])  # signed by BOB, issued to someone else
    result = vc.verify_presentation(vp, challenge="c-1f3a", domain="shop.example", now=NOW, holder_is_subject=True)
    assert result.verdict is Verdict.WRONG_HOLDER
    assert result.reason == "This credential belongs to someone else: the person showing it is not its holder."


def test_a_credential_about_its_holder_shown_by_its_holder_is_valid():
    vp = presentation(creds=[ownership_of(BOB)])
    assert vc.verify_presentation(vp, challenge="c-1f3a", domain="shop.example", now=NOW, holder_is_subject=True).ok


def test_without_holder_binding_a_credential_about_a_thing_may_be_shown_by_anyone():
    """The warranty is about the grinder: who shows it is the verifier's policy, not a forgery."""
    assert vc.verify_presentation(presentation(), challenge="c-1f3a", domain="shop.example", now=NOW).ok


def run_sign_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "ssi.sign", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def test_cli_presents_for_a_verifiers_challenge_and_domain_and_the_verifier_checks_the_holder(tmp_path):
    assert run_sign_cli("keygen", "bob.key", cwd=tmp_path).returncode == 0
    bob = SigningKey.from_multibase((tmp_path / "bob.key").read_text().strip())
    (tmp_path / "mine.json").write_text(json.dumps(ownership_of(bob)))
    (tmp_path / "theirs.json").write_text(json.dumps(ownership_of(key(13))))
    for name in ("mine", "theirs"):
        made = run_sign_cli(
            "present", "bob.key", f"{name}.json", "--challenge", "c-77", "--domain", "shop.example", cwd=tmp_path
        )
        assert made.returncode == 0, made.stderr
        (tmp_path / f"vp-{name}.json").write_text(made.stdout)
    checks = ("--challenge", "c-77", "--domain", "shop.example", "--now", "2026-06-01T00:00:00Z", "--holder-is-subject")
    mine = run_cli("vp-mine.json", *checks, cwd=tmp_path)
    assert mine.returncode == 0, mine.stdout
    theirs = run_cli("vp-theirs.json", *checks, cwd=tmp_path)
    assert theirs.returncode == 1 and theirs.stdout.startswith("FAIL: wrong_holder: "), theirs.stdout
    elsewhere = run_cli("vp-mine.json", "--challenge", "c-77", "--domain", "evil.example", cwd=tmp_path)
    assert elsewhere.returncode == 1 and elsewhere.stdout.startswith("FAIL: wrong_domain: ")
