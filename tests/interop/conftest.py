"""ACA-Py in its own virtualenv, for interop tests against its real code.

``scripts/acapy-env`` creates ``.cache/acapy/venv`` (git-ignored) once, with
acapy-agent 1.7.0 on Python 3.13 (1.4.0 on 3.11 otherwise); later runs only
print its interpreter. Nothing here is skipped: without ACA-Py the tests fail.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.asgi_thread import asgi_in_thread

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


@pytest.fixture(scope="session")
def acapy_ws_webhooks():
    from .acapy_live import WebhookListener

    listener = WebhookListener().start()
    yield listener
    listener.stop()


@pytest.fixture(scope="session")
def acapy_ws_agent(acapy_python: str, acapy_ws_webhooks, tmp_path_factory):
    """A second live ACA-Py whose DIDComm endpoint is a WebSocket (``ws://127.0.0.1:PORT``): it receives only
    over WebSocket and sends over WebSocket or HTTP. Auto-accepting like ``acapy_agent``, and with
    ``--monitor-ping`` so trust pings both ways show in its webhooks."""
    from .acapy_live import AcaPyAgent

    agent = AcaPyAgent(
        python=acapy_python,
        workdir=tmp_path_factory.mktemp("acapy-ws"),
        webhook_url=acapy_ws_webhooks.url,
        label="acapy-ws",
        inbound="ws",
        extra_args=("--monitor-ping",),
    ).start()
    yield agent
    agent.stop()


# -- Thingstead over ASGI (HTTP and WebSockets) -----------------------------------


@pytest.fixture(scope="session")
def asgi_server_url():
    """``config.asgi.application`` served by uvicorn in a thread of this process: HTTP and WebSockets, as the
    ASGI process serves them in production.

    In-process (tests/asgi_thread.py) for the reason tests/browser gives for its Daphne. Not Daphne here: its
    Twisted reactor runs once per process and the browser tests' session already starts one; uvicorn runs its own
    asyncio loop in its thread.
    """
    from config.asgi import application

    with asgi_in_thread(application, lifespan="off", ws="websockets-sansio") as url:
        yield url


@pytest.fixture
def asgi_site(asgi_server_url, transactional_db, settings) -> Iterator[str]:
    """The ASGI server's URL for one test, as SITE_URL (what our DIDs and invitations name). Transactional: the
    server's threads must see what the test writes."""
    settings.SITE_URL = str(asgi_server_url)
    yield asgi_server_url
    asgi_server_url.wait_quiet()  # before transactional_db flushes: see tests/asgi_thread.py


AGENT_FIXTURES = ("acapy_agent", "acapy_ws_agent")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        for name in AGENT_FIXTURES:
            if name not in getattr(item, "fixturenames", ()):
                continue
            agent = getattr(item, "funcargs", {}).get(name)
            if agent is not None:
                title = "ACA-Py log (tail)" if name == "acapy_agent" else f"ACA-Py log (tail), {name}"
                report.sections.append((title, agent.log_tail()))
    return report
