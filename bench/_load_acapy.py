"""bench/load.py's DIDComm peer: a real ACA-Py agent (tests/interop's AcaPyAgent, in its own virtualenv) connected
to some of the load run's twins by their own out-of-band invitations (DID Exchange), then driven through its admin
API to send basic messages (``POST /connections/{id}/send-message``). What the twins' server saw of them is read
from gunicorn's access log (its own request time, ``%(L)s``), and what arrived from the database: every message
ACA-Py was asked to send must be one InboundMessage row on its connection and one signed history entry.

Not a benchmark itself (run_all.py skips files starting with "_").
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench import _server as srv
from tests.interop.acapy_live import AcaPyAgent, AcaPyError, WebhookListener
from tests.interop.conftest import acapy_python_path

BASIC_MESSAGE = "https://didcomm.org/basicmessage/1.0/message"
# ACA-Py imports its whole stack before its admin API answers: longer than the interop tests' 30 s on a machine
# whose two cores the load run's servers share.
ACAPY_START_TIMEOUT = 180.0

INVITE = """
import json
from didcomm import outbox, services
from ssi import oob
from twins.models import Twin

invites = []
for pk in {twins!r}:
    connection = outbox.invitation_create(agent=services.agent_for_twin(Twin.objects.get(pk=pk)))
    invitation = oob.parse_url(connection.invitation_url).message
    invites.append({{"twin": pk, "ours": connection.pk, "invitation": invitation}})
print("INVITES " + json.dumps(invites))
"""

# gunicorn's access line (config/gunicorn.py: '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(L)s'): request line, status,
# bytes, request time in decimal seconds.
ACCESS_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) \S+ (?P<seconds>[\d.]+)\s*$'
)


def access_requests(text: str, *, method: str, path: str) -> list[tuple[int, float]]:
    """(status, milliseconds) of every request in gunicorn access-log `text` with this method and exact path."""
    found = []
    for line in text.splitlines():
        match = ACCESS_LINE.search(line)
        if match and match["method"] == method and match["path"] == path:
            found.append((int(match["status"]), float(match["seconds"]) * 1000))
    return found


class AccessLog:
    """gunicorn's stdout (its access log under config.gunicorn's logging) in a file, read between two marks."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "gunicorn-access.log"
        self.path.touch()

    def mark(self) -> int:
        return self.path.stat().st_size

    def read(self, start: int, end: int | None = None) -> str:
        with self.path.open("rb") as file:
            file.seek(start)
            data = file.read() if end is None else file.read(end - start)
        return data.decode(errors="replace")

    def serve(self, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        """srv.serve, but stdout (the access log) appended to this file: every worker writes whole lines."""
        log = tempfile.TemporaryFile()
        with self.path.open("ab") as out:
            process = subprocess.Popen(command, cwd=srv.ROOT, env=env, stdout=out, stderr=log, start_new_session=True)
        process.log = log  # type: ignore[attr-defined]
        return process


@dataclass(frozen=True)
class Link:
    twin: int
    ours: int
    """Our Connection's pk."""
    theirs: str
    """ACA-Py's connection_id."""


class AcaPyPeer:
    """One ACA-Py agent connected to some twins; :meth:`send` is one basic message to one of them, at random."""

    def __init__(self, workdir: Path) -> None:
        self.webhooks = WebhookListener().start()
        self.agent = AcaPyAgent(
            python=acapy_python_path(),
            workdir=workdir,
            webhook_url=self.webhooks.url,
            label="load-peer",
            start_timeout=ACAPY_START_TIMEOUT,
        )
        self.links: list[Link] = []
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        self.agent.start()

    def stop(self) -> None:
        self.agent.stop()
        self.webhooks.stop()

    def connect(self, env: dict[str, str], db: str, twins: list[int], *, timeout: float = 120.0) -> float:
        """Each twin's agent invites (out-of-band, DID Exchange), ACA-Py accepts; returns once both sides of every
        connection are completed (our side once the task worker delivered our response). The seconds it took."""
        started = time.monotonic()
        try:
            out = srv.manage(env, "shell", "-v0", "-c", INVITE.format(twins=twins))
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"the twins' invitations failed:\n{exc.stderr[-3000:]}") from None
        invites = json.loads(next(line for line in out.splitlines() if line.startswith("INVITES "))[8:])
        for invite in invites:
            record = self.agent.admin(
                "POST", "/out-of-band/receive-invitation?auto_accept=true", invite["invitation"], timeout=60
            )
            self.links.append(Link(twin=invite["twin"], ours=invite["ours"], theirs=record["connection_id"]))
        for link in self.links:
            left = max(1.0, timeout - (time.monotonic() - started))
            self.webhooks.webhooks.wait_for(
                "connections", timeout=left, connection_id=link.theirs, rfc23_state="completed"
            )
        ours = ",".join(str(link.ours) for link in self.links)
        query = f"SELECT count(*) FROM didcomm_connection WHERE id IN ({ours}) AND state = 'completed'"
        while int(srv.psql(query, db)) < len(self.links):
            if time.monotonic() - started > timeout:
                states = srv.psql(f"SELECT id, state, error FROM didcomm_connection WHERE id IN ({ours})", db)
                raise SystemExit(f"our side of the ACA-Py connections did not complete:\n{states}")
            time.sleep(0.5)
        return time.monotonic() - started

    def send(self) -> int | str:
        """Ask ACA-Py to send one basic message (unique content) on one of its connections: 200 once its admin API
        took it, else what went wrong."""
        link = random.choice(self.links)
        content = f"load {uuid.uuid4()}"
        try:
            self.agent.admin("POST", f"/connections/{link.theirs}/send-message", {"content": content}, timeout=60)
        except AcaPyError as exc:
            return f"admin {str(exc).split(':', 2)[1].split()[0]}"
        except OSError as exc:
            return type(exc).__name__
        with self.lock:
            self.sent.append(content)
        return 200

    def arrived(self, db: str) -> tuple[set[str], int, int]:
        """The distinct contents of the basic messages stored on ACA-Py's connections, the rows (a duplicate would
        be a second row), and the signed history entries that record them."""
        ours = ",".join(str(link.ours) for link in self.links)
        where = f"m.type = '{BASIC_MESSAGE}' AND m.connection_id IN ({ours})"
        contents = srv.psql(f"SELECT m.body->>'content' FROM didcomm_inboundmessage m WHERE {where}", db)
        rows = [line for line in contents.splitlines() if line]
        twins = ",".join(str(link.twin) for link in self.links)
        history = srv.psql(
            f"SELECT count(*) FROM twins_historyentry h JOIN didcomm_inboundmessage m ON h.ref_id = m.id "
            f"WHERE h.kind = 'message' AND h.twin_id IN ({twins}) AND {where}",
            db,
        )
        return set(rows), len(rows), int(history)

    def wait_arrived(self, db: str, *, timeout: float = 120.0) -> tuple[set[str], int, int]:
        """:meth:`arrived` once every sent message is there (ACA-Py delivers from its own queue), or after
        `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.arrived(db)
            with self.lock:
                missing = set(self.sent) - found[0]
            if (not missing and found[2] >= found[1]) or time.monotonic() > deadline:
                return found
            time.sleep(1)
