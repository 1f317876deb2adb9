"""``python -m ssi.sign``: a self-held owner key signs a did:webvh entry the server accepts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from ssi import webvh
from ssi.keys import SigningKey
from ssi.sign import main as sign_main

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "ssi.sign", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
    )


def test_keygen_writes_private_file_and_prints_public_key(tmp_path):
    keyfile = tmp_path / "owner.key"
    result = run("keygen", str(keyfile))
    assert result.returncode == 0, result.stderr
    public = result.stdout.strip()
    assert public.startswith("z6Mk")
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert run("pubkey", str(keyfile)).stdout.strip() == public
    assert run("keygen", str(keyfile)).returncode == 1  # never overwrites


def test_owner_signs_transfer_entry_offline_and_log_accepts_it(tmp_path, capsys):
    keyfile = tmp_path / "owner.key"
    assert sign_main(["keygen", str(keyfile)]) == 0
    owner_pub = capsys.readouterr().out.strip()
    platform = SigningKey.from_seed(b"\x05" * 32)
    log = webvh.create(
        signer=platform,
        domain="example.com",
        update_keys=[owner_pub, platform.multibase],
        version_time="2026-01-01T00:00:00Z",
    )
    buyer = SigningKey.from_seed(b"\x06" * 32)
    unsigned = webvh.build_entry(log, params={"updateKeys": [buyer.multibase]}, version_time="2026-01-02T00:00:00Z")
    entry_file = tmp_path / "entry.json"
    entry_file.write_text(json.dumps(unsigned))
    result = run("sign", str(keyfile), str(entry_file), "--attach")
    assert result.returncode == 0, result.stderr
    signed = json.loads(result.stdout)
    new = webvh.append_entry(log, signed)
    assert new.update_keys == (buyer.multibase,)
    assert new.latest.signers == (owner_pub,)


def test_sign_reads_stdin_and_prints_bare_proof(tmp_path):
    keyfile = tmp_path / "k"
    run("keygen", str(keyfile))
    result = run("sign", str(keyfile), "--created", "2026-01-01T00:00:00Z", stdin='{"a": 1}')
    proof = json.loads(result.stdout)
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["created"] == "2026-01-01T00:00:00Z"
    assert run("sign", str(keyfile), stdin="[1]").returncode == 1
