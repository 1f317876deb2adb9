"""The production processes of the PostgreSQL restart test, against a throwaway cluster (tests.faults.pg_cluster):
gunicorn (WSGI, `/didcomm/`), the ingest gateway (`/hooks/`), the MQTT bridge next to its own Mosquitto, each with
production settings (DEBUG off), in its own process group; and the seed they serve: one owner, one thing, a source
feeding it, and a completed DIDComm connection with a peer whose key the test holds."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.faults.pg_cluster import free_port

ROOT = Path(__file__).resolve().parents[2]

SEED = """
import json
from ingest import services as ingest
from owners.models import Owner
from ssi.keys import SigningKey
from tests.didcomm.endpoints import completed_connection
from twins import services

owner = Owner.objects.create_user(username="faults", email="faults@example.org", password="x" * 20)
twin = services.twin_create(owner=owner, name="Boiler", reading_kind="temp", reading_unit="°C")
source, secret = ingest.source_create(owner=owner, name="Boiler feed", rate_limit="1000000/60")
ingest.source_link_thing(source=source, twin=twin, external_id="boiler")
peer = SigningKey.generate()
connection = completed_connection(twin=twin, peer=peer, their_label="Peer", their_endpoint="http://127.0.0.1:9/")
print("SEED " + json.dumps({
    "twin": twin.pk, "source": source.public_id, "secret": secret, "peer_seed": peer.seed.hex(),
    "our_verkey": connection.my_verkey,
}))
"""


def production_env(*, database_url: str, mqtt_port: int, site_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    env.update(
        DEBUG="0",
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY=base64.urlsafe_b64encode(os.urandom(40)).decode(),
        KEY_ENCRYPTION_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
        SITE_URL=f"http://faults.localhost:{site_port}",
        ALLOWED_HOSTS="127.0.0.1,faults.localhost",
        SECURE_SSL_REDIRECT="0",
        STATIC_MANIFEST="0",
        DATABASE_URL=database_url,
        MQTT_URL=f"mqtt://127.0.0.1:{mqtt_port}",
        LOG_LEVEL="INFO",  # the bridge says what it acknowledged and why
        RATE_DIDCOMM_PER_SENDER="100000/60",
        RATE_DIDCOMM_PER_AGENT="100000/60",
        PYTHONUNBUFFERED="1",
    )
    return env


def seed(env: dict[str, str]) -> dict:
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("SEED "))
    return json.loads(line[5:])


class Servers:
    """Processes started in their own groups (gunicorn's workers stop with it), logging to files in `log_dir`."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("w")
        proc = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)  # what a test checks is in the database by now: no need for a long goodbye
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def web_and_gateway(servers: Servers) -> tuple[int, int]:
    """gunicorn as README's production command (fewer workers: a test) and the ingest gateway; their ports."""
    web, gateway = free_port(), free_port()
    bindir = Path(sys.executable).parent
    servers.start(
        "gunicorn",
        [
            str(bindir / "gunicorn"),
            "-c",
            "python:config.gunicorn",
            "config.wsgi",
            "-w",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{web}",
        ],
    )
    servers.start("gateway", [sys.executable, "manage.py", "ingest_gateway", "--port", str(gateway), "--workers", "1"])
    return web, gateway


def wait_listening(port: int, proc: subprocess.Popen, *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"a server exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on {port} within {timeout} s")
