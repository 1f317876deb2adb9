"""ACA-Py in its own virtualenv, for interop tests against its real code.

``scripts/acapy-env`` creates ``.cache/acapy/venv`` (git-ignored) once, with
acapy-agent 1.7.0 on Python 3.13 (1.4.0 on 3.11 otherwise); later runs only
print its interpreter. Nothing here is skipped: without ACA-Py the tests fail.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ACAPY_ENV = ROOT / "scripts" / "acapy-env"
ENVELOPE_DRIVER = Path(__file__).with_name("acapy_envelope.py")


def acapy_python_path() -> str:
    """Create ACA-Py's virtualenv if needed (minutes the first time) and return its python."""
    done = subprocess.run([str(ACAPY_ENV)], capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/acapy-env failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done.stdout.strip().splitlines()[-1]


def run_acapy_envelope(python: str, ops: list[dict]) -> list[dict]:
    """Run ops (see acapy_envelope.py) in one ACA-Py process and return their results."""
    done = subprocess.run(
        [python, str(ENVELOPE_DRIVER)],
        input=json.dumps({"ops": ops}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ACA-Py envelope driver failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout)["results"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="session")
def acapy_python() -> str:
    return acapy_python_path()


@pytest.fixture(scope="session")
def acapy_envelope(acapy_python: str) -> Callable[[list[dict]], list[dict]]:
    """Run envelope ops with ACA-Py's own pack_message/unpack_message."""
    return lambda ops: run_acapy_envelope(acapy_python, ops)


# -- a live ACA-Py agent ----------------------------------------------------


@pytest.fixture(scope="session")
def acapy_webhooks():
    from .acapy_live import WebhookListener

    listener = WebhookListener().start()
    yield listener
    listener.stop()


@pytest.fixture(scope="session")
def acapy_agent(acapy_python: str, acapy_webhooks, tmp_path_factory):
    """A real ACA-Py agent on loopback for the whole session (auto-accepting invitations and requests).

    If it cannot start, the test fails with the tail of its log; a failing test that used it gets the tail
    as a report section (see pytest_runtest_makereport below).
    """
    from .acapy_live import AcaPyAgent

    agent = AcaPyAgent(
        python=acapy_python, workdir=tmp_path_factory.mktemp("acapy"), webhook_url=acapy_webhooks.url
    ).start()
    yield agent
    agent.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and "acapy_agent" in getattr(item, "fixturenames", ()):
        agent = getattr(item, "funcargs", {}).get("acapy_agent")
        if agent is not None:
            report.sections.append(("ACA-Py log (tail)", agent.log_tail()))
    return report
