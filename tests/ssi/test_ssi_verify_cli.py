"""Offline verification of exported bundles: ``python -m ssi.verify`` (SECURITY 5, 11)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ssi import bundle, history, proofs, webvh
from ssi.errors import SSIError
from ssi.keys import SigningKey

ROOT = Path(__file__).resolve().parents[2]


def key(n: int) -> SigningKey:
    return SigningKey.from_seed(n.to_bytes(32, "big"))


def make_twin() -> tuple[webvh.LogState, list[dict]]:
    tmpl = webvh.document_for(
        webvh.make_did(webvh.SCID_PLACEHOLDER, "example.com", ("t", "cow")), signing_keys=[key(7).verify_key]
    )
    log = webvh.create(
        signer=key(1), domain="example.com", path=("t", "cow"), document=tmpl, version_time="2026-01-01T00:00:00Z"
    )
    log = webvh.rotate(
        log,
        signer=key(1),
        update_keys=[key(2).multibase],
        document=webvh.document_for(log.did, signing_keys=[key(8).verify_key]),
        version_time="2026-01-03T00:00:00Z",
    )
    entries: list[dict] = []
    for i, (signer, day) in enumerate([(key(7), 1), (key(7), 2), (key(8), 3), (key(8), 4)]):
        entries.append(
            history.append(
                entries[-1] if entries else None,
                content={"n": i},
                kind="reading",
                key=signer,
                scid=log.scid,
                time=f"2026-01-0{day}T12:00:00.000000Z",
            )
        )
    entries[1] = history.redact(entries[1])
    return log, entries


def run_cli(path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "ssi.verify", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=path.parent,
        timeout=60,
    )


def test_bundle_verifies_and_reports_counts_and_owner():
    log, entries = make_twin()
    report = bundle.verify_bundle(json.dumps(bundle.make_bundle(log, entries, key=key(8))))
    assert report.summary() == f"OK: 4 entries, 1 redacted, owner key {key(2).multibase}"
    assert report.twin_keys == (key(8).multibase,)


def test_bundle_with_log_lines_as_strings_verifies():
    log, entries = make_twin()
    b = bundle.make_bundle(log, entries, key=key(8)) | {"did_log": log.jsonl().splitlines()}
    assert bundle.verify_bundle(b).log_versions == 2


def test_cli_prints_ok_and_exits_zero(tmp_path):
    log, entries = make_twin()
    f = tmp_path / "twin.json"
    f.write_text(json.dumps(bundle.make_bundle(log, entries, key=key(8))))
    result = run_cli(f)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"OK: 4 entries, 1 redacted, owner key {key(2).multibase}"


def test_cli_verifies_a_bare_did_jsonl(tmp_path):
    log, _ = make_twin()
    f = tmp_path / "did.jsonl"
    f.write_text(log.jsonl())
    result = run_cli(f)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: did log 2 versions")


def test_cli_names_the_tampered_history_entry_and_exits_one(tmp_path):
    log, entries = make_twin()
    entries[2]["content"] = {"n": 666}
    f = tmp_path / "twin.json"
    f.write_text(json.dumps(bundle.make_bundle(log, entries, key=key(8))))
    result = run_cli(f)
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: history entry 3: content does not match")


def test_cli_names_the_tampered_log_entry_and_exits_one(tmp_path):
    log, entries = make_twin()
    b = bundle.make_bundle(log, entries, key=key(8))
    b["did_log"][1]["parameters"]["updateKeys"] = [key(666).multibase]
    f = tmp_path / "twin.json"
    f.write_text(json.dumps(b))
    result = run_cli(f)
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: did_log entry 2:")


def test_cli_rejects_garbage_with_exit_one(tmp_path):
    f = tmp_path / "junk.json"
    f.write_text("{not json")
    assert run_cli(f).returncode == 1


def test_bundle_did_must_match_log():
    log, entries = make_twin()
    b = bundle.make_bundle(log, entries, key=key(8)) | {"did": "did:webvh:QmOther:example.com"}
    with pytest.raises(SSIError, match="did does not match"):
        bundle.verify_bundle(b)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


# The one module allowed more: the Ed25519Signature2020 suite (for wallets without Data Integrity, ACA-Py) needs
# JSON-LD canonicalization, which pyld does; nothing the offline verifier imports reaches it (the CLI tests below
# run with pyld made unimportable).
JSON_LD_MODULES = {"ed25519_2020.py": {"pyld"}}
# And the optional accelerators (bench/verify.py): ssi.jcs parses and prints the fast-path shapes with orjson, and
# ssi.multibase reads base58 with gmpy2, when they are installed; each gives the same bytes without them (the CLI
# tests below run with both made unimportable).
ACCELERATORS = {"jcs.py": {"orjson"}, "multibase.py": {"gmpy2"}}


def test_ssi_imports_nothing_from_django_and_only_nacl_and_rfc8785_outside_stdlib():
    for path in sorted((ROOT / "ssi").rglob("*.py")):
        allowed_third_party = (
            {"nacl", "rfc8785"} | JSON_LD_MODULES.get(path.name, set()) | ACCELERATORS.get(path.name, set())
        )
        for name in _imports(path):
            top = name.split(".")[0]
            assert top != "django", f"{path} imports {name}"
            assert top in sys.stdlib_module_names or top in allowed_third_party or top == "ssi", (
                f"{path} imports {name}"
            )


def test_verify_cli_needs_only_pynacl_for_a_plain_bundle(tmp_path):
    """The issue: `python -m ssi.verify` works with nothing but ssi/ and PyNaCl installed."""
    log, entries = make_twin()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle.make_bundle(log, entries, key=key(8))))
    # Make rfc8785 and Django unimportable in the child: None in sys.modules raises ImportError on import.
    code = (
        "import sys; sys.modules['rfc8785'] = None; sys.modules['pyld'] = None; sys.modules['django'] = None; "
        "sys.modules['orjson'] = None; sys.modules['gmpy2'] = None; "
        "from ssi.verify import main; sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: 4 entries, 1 redacted")


def test_verify_cli_needs_only_pynacl_for_emoji_and_extreme_numbers(tmp_path):
    """Issue "Proven under load" item 5: an emoji or a reading outside 1e-4…1e16 used to need rfc8785, and its
    absence was reported as a forged bundle (exit 1). ssi.jcs now canonicalizes everything itself."""
    log, entries = make_twin()
    content = {"note": "moo 🐄", "🐄": "cow", "\ue000": "private use", "tiny": 1.5e-7, "huge": 1e21, "big": 2e16}
    entries.append(
        history.append(
            entries[-1], content=content, kind="reading", key=key(8), scid=log.scid, time="2026-01-05T12:00:00.000000Z"
        )
    )
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle.make_bundle(log, entries, key=key(8)), ensure_ascii=False), encoding="utf-8")
    code = (
        "import sys; sys.modules['rfc8785'] = None; sys.modules['pyld'] = None; sys.modules['django'] = None; "
        "sys.modules['orjson'] = None; sys.modules['gmpy2'] = None; "
        "from ssi.verify import main; sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: 5 entries, 1 redacted")


# -- the signed head (issue "Proven under load" item 6) ------------------------------------------------------


def test_a_bundle_with_its_last_entries_cut_off_names_where_it_was_cut(tmp_path):
    log, entries = make_twin()
    b = bundle.make_bundle(log, entries, key=key(8))
    b["history"] = b["history"][:2]
    with pytest.raises(SSIError, match=r"^history: the history was cut after entry 2 \(the signed head names 4\)"):
        bundle.verify_bundle(b)
    f = tmp_path / "cut.json"
    f.write_text(json.dumps(b))
    result = run_cli(f)
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: history: the history was cut after entry 2")


def test_a_history_cut_to_nothing_fails_too():
    log, entries = make_twin()
    b = bundle.make_bundle(log, entries, key=key(8)) | {"history": []}
    with pytest.raises(SSIError, match="cut after entry 0"):
        bundle.verify_bundle(b)


def test_a_twin_with_no_history_yet_has_a_head_at_the_genesis_anchor():
    log, _ = make_twin()
    head = bundle.sign_head(did=log.did, document=log.document, entries=[], key=key(8), scid=log.scid)
    b = bundle.make_bundle(log, []) | {"head": head}
    assert bundle.verify_bundle(b).entries == 0


def test_a_head_signed_by_a_key_that_is_not_the_twins_fails():
    log, entries = make_twin()
    b = bundle.make_bundle(log, entries, key=key(8))
    forged = bundle.make_bundle(log, entries[:2], key=key(8))["head"]
    # A stranger's key under the twin's key id, and the seller's old twin key (valid before the rotation):
    for signer in (key(666), key(7)):
        head = {k: v for k, v in forged.items() if k != "proof"}
        b["head"] = proofs.sign_document(head, signer, verification_method=forged["proof"]["verificationMethod"])
        b["head"]["proof"]["created"] = head["time"]
        with pytest.raises(SSIError, match=r"^head: not signed by the twin's key"):
            bundle.verify_bundle(b | {"history": entries[:2]})


def test_the_old_twin_key_cannot_sign_a_head_after_the_rotation():
    log, entries = make_twin()
    with pytest.raises(SSIError, match="not an assertionMethod key"):
        bundle.make_bundle(log, entries[:2], key=key(7))


def test_a_head_that_another_twin_signed_fails():
    log, entries = make_twin()
    b = bundle.make_bundle(log, entries, key=key(8))
    b["head"] = {**b["head"], "did": "did:webvh:QmOther:example.com"}
    with pytest.raises(SSIError, match=r"^head: .*not this twin"):
        bundle.verify_bundle(b)


def test_a_changed_head_seq_breaks_its_signature():
    log, entries = make_twin()
    b = bundle.make_bundle(log, entries[:2], key=key(8))
    b["head"]["seq"] = 4  # claims the whole history after a cut at 2
    b["history"] = entries
    with pytest.raises(SSIError, match=r"^head: not signed.*does not verify"):
        bundle.verify_bundle(b)


def test_a_bundle_without_a_head_is_refused_with_a_reason(tmp_path):
    """Bundles from before heads existed are refused: accepting them would let anyone strip the head off a
    truncated bundle. The owner can export again."""
    log, entries = make_twin()
    f = tmp_path / "old.json"
    f.write_text(json.dumps(bundle.make_bundle(log, entries)))
    result = run_cli(f)
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: bundle: it has no signed head")
    assert "export it again" in result.stdout


def test_a_deactivated_twins_head_is_signed_by_its_last_twin_key():
    log, entries = make_twin()
    log = webvh.deactivate(log, signer=key(2), version_time="2026-01-06T00:00:00Z")
    b = bundle.make_bundle(log, entries, key=key(8))
    report = bundle.verify_bundle(b)
    assert report.deactivated and report.entries == 4
