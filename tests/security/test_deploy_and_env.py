"""The production checklist (SECURITY 27) and the example environment file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 20 + "production-secret-key-with-enough-entropy-0123456789",
    "KEY_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    "ALLOWED_HOSTS": "things.example.org",
    "SITE_URL": "https://things.example.org",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}


def test_check_deploy_passes_on_production_settings(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PRODUCTION_ENV, LOCAL_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_env_example_can_be_sourced_by_a_shell():
    result = subprocess.run(
        ["bash", "-c", 'set -a; source .env.example; printf %s "$DEFAULT_FROM_EMAIL"'],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout == "Thingstead <noreply@things.example.org>"
