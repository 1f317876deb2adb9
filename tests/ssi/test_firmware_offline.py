"""Firmware manifests: ssi.firmware.verify and `python -m ssi.firmware` (SECURITY 34-36, issue 19).

Every refusal has its own reason; each test changes one thing about a manifest that is otherwise accepted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ssi import firmware, webvh
from ssi.firmware import Policy, Reason, Refused
from ssi.keys import SigningKey

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = bytes(range(256)) * 64  # 16 KiB


def key(n: int) -> SigningKey:
    return SigningKey.from_seed(n.to_bytes(32, "big"))


MAKER_V1, MAKER_V2, AGENT = key(1), key(2), key(9)
OFFICERS = [key(21), key(22), key(23)]
CRITICAL = Policy(threshold=2, officers=tuple(k.multibase for k in OFFICERS))


def maker_log(rotated: bool = False) -> webvh.LogState:
    tmpl = webvh.document_for(
        webvh.make_did(webvh.SCID_PLACEHOLDER, "example.com", ("orgs", "acme")), signing_keys=[AGENT.verify_key]
    )
    log = webvh.create(
        signer=MAKER_V1,
        domain="example.com",
        path=("orgs", "acme"),
        document=tmpl,
        next_key_hashes=[webvh.next_key_hash(MAKER_V2.multibase)],
        version_time="2026-01-01T00:00:00Z",
    )
    if rotated:
        log = webvh.rotate(
            log,
            signer=MAKER_V2,
            update_keys=[MAKER_V2.multibase],
            next_key_hashes=[webvh.next_key_hash(key(3).multibase)],
            version_time="2026-02-01T00:00:00Z",
        )
    return log


LOG = maker_log()
ROTATED = maker_log(rotated=True)


def manifest(sequence: int = 5, signer: SigningKey = MAKER_V1, **over) -> dict:
    m = firmware.build(
        vendor_id=LOG.did,
        class_id="acme-thermo-2",
        version=f"1.{sequence}.0",
        sequence=sequence,
        payload=PAYLOAD,
        payload_ref="thermo-1.5.0.bin",
    )
    m.update(over)
    return firmware.sign(m, signer)


def refusal(m, payload=PAYLOAD, *, maker=LOG, model="acme-thermo-2", last=4, policy=None) -> Reason:
    with pytest.raises(Refused) as info:
        firmware.verify(m, payload, maker=maker, class_id=model, last_sequence=last, policy=policy)
    return info.value.reason


def test_a_manifest_signed_by_the_makers_current_key_is_accepted():
    accepted = firmware.verify(manifest(), PAYLOAD, maker=LOG, class_id="acme-thermo-2", last_sequence=4)
    assert accepted.sequence == 5 and accepted.maker_keys == (MAKER_V1.multibase,)


def test_the_makers_did_url_assertion_key_may_sign():
    m = firmware.sign(firmware.build(**_fields()), AGENT, verification_method=f"{LOG.did}#key-1")
    assert firmware.verify(m, PAYLOAD, maker=LOG, class_id="acme-thermo-2", last_sequence=None).maker_keys == (
        AGENT.multibase,
    )


def _fields(**over) -> dict:
    base = dict(
        vendor_id=LOG.did, class_id="acme-thermo-2", version="1.5.0", sequence=5, payload=PAYLOAD, payload_ref="x.bin"
    )
    return {**base, **over}


def test_security_34_a_key_rotated_out_of_the_did_log_is_refused_whatever_the_date():
    old = manifest(signer=MAKER_V1, created="2026-01-15T00:00:00Z")  # made while MAKER_V1 was current
    assert refusal(old, maker=ROTATED) is Reason.UNAUTHORISED_KEY
    new = manifest(signer=MAKER_V1)
    assert refusal(new, maker=ROTATED) is Reason.UNAUTHORISED_KEY


def test_rotation_between_two_releases_the_old_release_needs_the_current_keys_reattestation():
    old = manifest(sequence=5, signer=MAKER_V1)
    assert firmware.verify(old, PAYLOAD, maker=LOG, class_id="acme-thermo-2", last_sequence=4)
    # The policy (docs/firmware.md): nothing is trusted by its date. The maker re-attests the old release with
    # its current key and drops the rotated-out key's proof; then it verifies again.
    reattested = firmware.sign(firmware.without_proofs_by(old, [MAKER_V1.multibase]), MAKER_V2)
    assert firmware.verify(reattested, PAYLOAD, maker=ROTATED, class_id="acme-thermo-2", last_sequence=4)
    # Merely adding the current key's proof is not enough: the rotated-out proof still refuses it.
    assert refusal(firmware.sign(old, MAKER_V2), maker=ROTATED) is Reason.UNAUTHORISED_KEY
    # The next release, signed by the current key, is accepted.
    assert firmware.verify(
        manifest(sequence=6, signer=MAKER_V2), PAYLOAD, maker=ROTATED, class_id=None, last_sequence=5
    )


def test_security_35_rollback_is_refused_even_at_the_same_sequence():
    assert refusal(manifest(sequence=4)) is Reason.ROLLBACK
    assert refusal(manifest(sequence=3)) is Reason.ROLLBACK


def test_security_35_a_vendor_mismatch_is_refused():
    other = webvh.create(signer=key(5), domain="example.com", path=("orgs", "other"))
    assert refusal(manifest(vendor_id=other.did)) is Reason.VENDOR_MISMATCH
    assert refusal(manifest(vendor_id="did:web:example.com")) is Reason.VENDOR_MISMATCH


def test_security_35_a_model_mismatch_is_refused():
    assert refusal(manifest(), model="acme-thermo-3") is Reason.MODEL_MISMATCH


def test_security_36_a_wrong_hash_is_refused():
    assert refusal(manifest(), PAYLOAD[:-1] + b"\x00") is Reason.HASH_MISMATCH


def test_security_36_a_wrong_size_is_refused():
    assert refusal(manifest(), PAYLOAD + b"\x00") is Reason.SIZE_MISMATCH


def test_a_tampered_manifest_has_a_bad_signature():
    m = manifest()
    m["payload"] = "https://evil.example/x.bin"
    assert refusal(m) is Reason.BAD_SIGNATURE


def test_a_stranger_key_is_refused():
    assert refusal(manifest(signer=key(77))) is Reason.UNAUTHORISED_KEY


def test_k_minus_one_of_k_officers_is_refused():
    m = firmware.sign(manifest(), OFFICERS[0])
    assert refusal(m, policy=CRITICAL) is Reason.THRESHOLD_NOT_MET
    m = firmware.sign(m, OFFICERS[2])
    accepted = firmware.verify(m, PAYLOAD, maker=LOG, class_id="acme-thermo-2", last_sequence=4, policy=CRITICAL)
    assert len(accepted.officer_keys) == 2


def test_a_maker_key_listed_as_an_officer_does_not_count_as_one():
    """The platform signs with the maker's key unattended: were it an officer too, 2 of 3 would need one person."""
    policy = Policy(threshold=2, officers=(MAKER_V1.multibase, OFFICERS[0].multibase, OFFICERS[1].multibase))
    m = firmware.sign(manifest(), OFFICERS[0])
    assert refusal(m, policy=policy) is Reason.THRESHOLD_NOT_MET
    both = firmware.sign(m, OFFICERS[1])
    accepted = firmware.verify(both, PAYLOAD, maker=LOG, class_id="acme-thermo-2", last_sequence=4, policy=policy)
    assert len(accepted.officer_keys) == 2


def test_officers_alone_without_the_maker_are_refused():
    m = firmware.sign(firmware.sign(firmware.build(**_fields()), OFFICERS[0]), OFFICERS[1])
    assert refusal(m, policy=CRITICAL) is Reason.NO_MAKER_SIGNATURE


def test_the_same_signer_counted_twice_is_refused():
    m = firmware.sign(manifest(), OFFICERS[0])
    twice = firmware.sign(m, OFFICERS[0])
    assert refusal(twice, policy=CRITICAL) is Reason.DUPLICATE_SIGNER
    # The same key under another URL (the DID URL and the did:key URL of the maker's agent key) is one signer.
    m = firmware.sign(firmware.build(**_fields()), AGENT, verification_method=f"{LOG.did}#key-1")
    assert refusal(firmware.sign(m, AGENT)) is Reason.DUPLICATE_SIGNER


def test_malformed_manifests_are_refused_as_malformed():
    good = manifest()
    for change in (
        {"sequence": "5"},
        {"size": -1},
        {"sha256": "AB"},
        {"sha256": "a" * 64 + "\n"},
        {"type": "Other"},
        {"sequence": True},
        {"sequence": 2**53},  # past what every JSON reader keeps exactly
        {"size": 2**64},
        {"notes": float("inf")},  # 1e400 as json.loads reads it: no canonical form, so never signed
    ):
        assert refusal({**good, **change}) is Reason.MALFORMED, change
    assert refusal([good]) is Reason.MALFORMED


def test_a_policy_cannot_ask_more_than_its_officers():
    with pytest.raises(ValueError, match="exceeds"):
        Policy(threshold=3, officers=(OFFICERS[0].multibase, OFFICERS[0].multibase, OFFICERS[1].multibase))


def test_hashing_streams_in_chunks():
    d = firmware.digest_stream(iter([PAYLOAD[:100], PAYLOAD[100:]]))
    assert d == firmware.digest_of(PAYLOAD)


# --- The command line (the same checks, nothing but ssi/ and PyNaCl) ------------------------------------------


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "ssi.firmware", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fw")
    (d / "did.jsonl").write_text(LOG.jsonl())
    (d / "rotated.jsonl").write_text(ROTATED.jsonl())
    (d / "fw.bin").write_bytes(PAYLOAD)
    (d / "bad.bin").write_bytes(PAYLOAD[:-1] + b"\x01")
    (d / "maker.key").write_text(MAKER_V1.private_multibase() + "\n")
    for i, k in enumerate(OFFICERS):
        (d / f"officer{i}.key").write_text(k.private_multibase() + "\n")
    (d / "policy.json").write_text(json.dumps(CRITICAL.to_json()))
    return d


def sign_cli(files: Path, *extra: str, keyfile: str = "maker.key") -> dict:
    out = run("sign", keyfile, *extra, cwd=files)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_cli_signs_and_verifies_a_manifest(files):
    m = sign_cli(
        files,
        "--payload",
        "fw.bin",
        "--vendor",
        LOG.did,
        "--model",
        "acme-thermo-2",
        "--version",
        "2.0",
        "--sequence",
        "9",
    )
    (files / "m.json").write_text(json.dumps(m))
    out = run(
        "verify",
        "m.json",
        "fw.bin",
        "--maker",
        "did.jsonl",
        "--last-sequence",
        "8",
        "--model",
        "acme-thermo-2",
        cwd=files,
    )
    assert out.returncode == 0 and out.stdout.startswith("OK: acme-thermo-2 2.0"), out.stdout + out.stderr


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("m.json", "fw.bin", "--maker", "rotated.jsonl"), "unauthorised-key"),  # SECURITY 34
        (("m.json", "fw.bin", "--maker", "did.jsonl", "--last-sequence", "9"), "rollback"),  # SECURITY 35
        (("m.json", "fw.bin", "--maker", "did.jsonl", "--model", "acme-other"), "model-mismatch"),  # SECURITY 35
        (("m.json", "bad.bin", "--maker", "did.jsonl"), "hash-mismatch"),  # SECURITY 36
        (("m.json", "did.jsonl", "--maker", "did.jsonl"), "size-mismatch"),  # SECURITY 36
        (("m.json", "fw.bin", "--maker", "did.jsonl", "--policy", "policy.json"), "threshold-not-met"),
    ],
)
def test_cli_refuses_with_a_one_line_reason(files, args, reason):
    m = sign_cli(
        files,
        "--payload",
        "fw.bin",
        "--vendor",
        LOG.did,
        "--model",
        "acme-thermo-2",
        "--version",
        "2.0",
        "--sequence",
        "9",
    )
    (files / "m.json").write_text(json.dumps(m))
    out = run("verify", *args, cwd=files)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"REFUSED ({reason})"), out.stdout


def test_cli_refuses_a_vendor_mismatch(files):
    other = webvh.create(signer=key(5), domain="example.com", path=("orgs", "other"))
    m = sign_cli(
        files, "--payload", "fw.bin", "--vendor", other.did, "--model", "m", "--version", "1", "--sequence", "1"
    )
    (files / "v.json").write_text(json.dumps(m))
    out = run("verify", "v.json", "fw.bin", "--maker", "did.jsonl", cwd=files)
    assert out.returncode == 1 and "vendor-mismatch" in out.stdout


def test_cli_cosigns_for_a_critical_model_and_counts_each_officer_once(files):
    m = sign_cli(
        files,
        "--payload",
        "fw.bin",
        "--vendor",
        LOG.did,
        "--model",
        "acme-thermo-2",
        "--version",
        "3",
        "--sequence",
        "10",
    )
    (files / "c.json").write_text(json.dumps(m))
    (files / "c1.json").write_text(json.dumps(sign_cli(files, "--manifest", "c.json", keyfile="officer0.key")))
    (files / "c1b.json").write_text(json.dumps(sign_cli(files, "--manifest", "c1.json", keyfile="officer0.key")))
    out = run("verify", "c1b.json", "fw.bin", "--maker", "did.jsonl", "--policy", "policy.json", cwd=files)
    assert out.returncode == 1 and "duplicate-signer" in out.stdout
    (files / "c2.json").write_text(json.dumps(sign_cli(files, "--manifest", "c1.json", keyfile="officer1.key")))
    out = run("verify", "c2.json", "fw.bin", "--maker", "did.jsonl", "--policy", "policy.json", cwd=files)
    assert out.returncode == 0, out.stdout
    assert "2 release officer(s)" in out.stdout


def test_cli_cannot_check_without_a_valid_did_log(files):
    (files / "broken.jsonl").write_text(LOG.jsonl().replace('"1-', '"2-', 1))
    (files / "m0.json").write_text(json.dumps(manifest()))
    out = run("verify", "m0.json", "fw.bin", "--maker", "broken.jsonl", cwd=files)
    assert out.returncode == 3 and out.stdout.startswith("CANNOT CHECK")
    out = run("verify", "missing.json", "fw.bin", "--maker", "did.jsonl", cwd=files)
    assert out.returncode == 2
