"""The example environment file. (The production checklist, SECURITY 27, is tests/test_settings.py's.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
