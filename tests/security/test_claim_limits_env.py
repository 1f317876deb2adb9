"""The claim-code limits (makers.claims) come from the environment, like every other rate limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
from types import SimpleNamespace
import django
django.setup()
from makers import claims
limits = dict(claims._limits(SimpleNamespace(pk=1), SimpleNamespace(pk=2), "client-x"))
print(json.dumps(limits))
"""


def limits_under(**environment: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATE_CLAIM")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings_test", **environment)
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_claim_limits_a_wrong_code_spends_are_read_from_the_environment():
    limits = limits_under(RATE_CLAIM_FAILURES="7/60", RATE_CLAIM_FAILURES_PER_CLIENT="11/120")
    assert limits == {"buyer:1": "7/60", "twin:2": "7/60", "client:client-x": "11/120"}


def test_without_the_variables_the_documented_defaults_apply():
    assert limits_under() == {"buyer:1": "5/900", "twin:2": "5/900", "client:client-x": "20/900"}


def test_env_example_names_both_claim_limits():
    names = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line}
    assert {"RATE_CLAIM_FAILURES", "RATE_CLAIM_FAILURES_PER_CLIENT"} <= names
