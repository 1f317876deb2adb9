"""Two Thingstead instances on loopback, each its own processes and database: the manufacturer on B, a thing and
its owner on A. The thing is introduced to the manufacturer through an invitation of B's organisation agent, the
owner accepts on A, the manufacturer receives readings under the owner's grant, and a recall issued on B reaches
the owner on A.

Each instance is what production runs, minus the proxy: an ASGI server (uvicorn, ``config.asgi``) and the task
worker (``db_worker``), with a SQLite file database of its own (WAL, as DATABASE_URL=sqlite:/// sets it up) and
its own SITE_URL. The test drives each through ``manage.py shell`` (what an operator or the pages would call) and
sees the other only over DIDComm. Nothing is shared but the key-encryption key file of the development checkout
(each database holds its own sealed keys).

Slow (two migrations and several worker rounds): about a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GTIN = "09506000134352"
SERIAL = "GM3-0001"

SETTINGS = """
import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("STATIC_MANIFEST", "0")

from config.settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True  # the other instance listens on loopback
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
SHARING_BATCH_SECONDS = 1
"""

# Waits inside the instance's own process: one interpreter start per wait, not per poll.
WAIT = """
import time
deadline = time.monotonic() + {timeout}
while True:
    value = ({condition})
    if value or time.monotonic() > deadline:
        break
    time.sleep(0.3)
print(json.dumps({{"ok": bool(value)}}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Instance:
    """One Thingstead: its database file, its server and worker processes, and ``manage.py shell`` against it."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.dir = workdir / name
        self.dir.mkdir()
        (self.dir / "two_instance_settings.py").write_text(SETTINGS)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
        env.update(
            DJANGO_SETTINGS_MODULE="two_instance_settings",
            PYTHONPATH=os.pathsep.join([str(self.dir), str(ROOT)]),
            DATABASE_URL=f"sqlite:///{self.dir / 'db.sqlite3'}",
            SITE_URL=self.url,
            # did:webvh wants a DNS name (FACTS.md): the DIDs name one, the endpoints the loopback address.
            DID_DOMAIN=f"{name}.thingstead.localhost:{self.port}",
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self.procs: list[subprocess.Popen] = []

    @property
    def database(self) -> Path:
        return self.dir / "db.sqlite3"

    def migrate(self) -> None:
        with (self.dir / "migrate.log").open("w") as log:
            done = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        if done.returncode != 0:
            pytest.fail(f"migrate failed on {self.name}:\n{self.logs()}")

    def _spawn(self, args: list[str], log_name: str) -> None:
        log = (self.dir / log_name).open("w")
        self.procs.append(subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT))

    def start(self) -> None:
        self._spawn(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port",
             str(self.port), "--lifespan", "off", "--log-level", "warning"],
            "server.log",
        )  # fmt: skip
        self._spawn(
            [sys.executable, "manage.py", "db_worker", "--interval", "0.2", "--no-startup-delay", "--no-reload"],
            "worker.log",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"instance {self.name} did not start:\n{self.logs()}")

    def run(self, script: str, **values: object) -> dict:
        """Run ``script`` in ``manage.py shell`` on this instance; it prints one JSON object last."""
        prelude = "import json\n" + "".join(f"{key} = {value!r}\n" for key, value in values.items())
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", prelude + textwrap.dedent(script)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"{self.name}: script failed:\n{done.stderr[-4000:]}\n{self.logs()}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def wait(self, condition: str, *, setup: str = "", timeout: float = 60, what: str) -> None:
        result = self.run(textwrap.dedent(setup) + WAIT.format(condition=condition, timeout=timeout))
        if not result["ok"]:
            pytest.fail(f"{self.name}: timed out waiting for {what}\n{self.logs()}")

    def logs(self) -> str:
        parts = []
        for log in sorted(self.dir.glob("*.log")):
            parts.append(f"--- {self.name} {log.name} ---\n{log.read_text()[-3000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def instances(tmp_path):
    a, b = Instance("a", tmp_path), Instance("b", tmp_path)
    a.migrate()
    # The same empty schema: B starts from a copy of A's freshly migrated file (nothing in it yet).
    shutil.copyfile(a.database, b.database)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


MANUFACTURER_SETUP = """
from didcomm import outbox
from didcomm.services import agent_for_owner
from makers.models import ProductModel
from owners.models import Owner

try:
    from makers.orgs import organisation_create
except ImportError:
    from makers.access import organisation_account_create as organisation_create

dora = Owner(username="dora", email="dora@example.org")
dora.set_unusable_password()
dora.save()
acme = organisation_create(slug="acme", name="Acme Grinders", admin=dora)
ProductModel.objects.create(
    organisation=acme, name="Grindmaster 3000", gtin=gtin, reading_kinds=[{"kind": "grams", "unit": "g"}]
)
# The invitation the organisation publishes for its things' agents (one per thing: an invitation takes one
# requester).
invitation = outbox.invitation_create(agent=agent_for_owner(acme.account))
print(json.dumps({"invitation": invitation.invitation_url}))
"""

OWNER_SETUP = """
from owners.models import Owner
from sharing.introductions import Party, introduction_start
from twins.services import twin_create

alice = Owner(username="alice", email="alice@example.org")
alice.set_unusable_password()
alice.save()
twin = twin_create(owner=alice, name="Grindmaster 3000", icon="coffee", serial=serial, reading_kind="grams")
introduction = introduction_start(
    twin=twin, party=Party(label="Acme Grinders", invitation_url=invitation, gtin=gtin, serial=serial)
)
print(json.dumps({"introduction": introduction.pk, "thing": twin.did, "twin": twin.pk}))
"""


@pytest.mark.slow
@pytest.mark.own_databases
def test_a_manufacturer_on_another_instance_is_introduced_gets_granted_readings_and_its_recall_reaches_the_owner(
    instances,
):
    a, b = instances
    published = b.run(MANUFACTURER_SETUP, gtin=GTIN)["invitation"]
    assert published.startswith(b.url + "/didcomm/?oob=")
    started = a.run(OWNER_SETUP, invitation=published, gtin=GTIN, serial=SERIAL)
    introduction_id, thing = started["introduction"], started["thing"]

    # B approves over DIDComm (its organisation auto-approves); A asks its owner.
    a.wait(
        "Introduction.objects.get(pk=introduction_id).state == 'proposed'",
        setup=f"from sharing.models import Introduction\nintroduction_id = {introduction_id}\n",
        what="the owner to be asked",
    )
    asked = a.run(
        """
        from owners.models import Notification
        from sharing.models import Introduction
        introduction = Introduction.objects.get(pk=introduction_id)
        item = Notification.objects.get(kind="introduction", owner=introduction.owner)
        print(json.dumps({"asks": introduction.asks_for, "title": item.title, "label": introduction.party_label}))
        """,
        introduction_id=introduction_id,
    )
    assert asked == {
        "asks": ["readings:grams"],
        "title": "Acme Grinders would like to connect",
        "label": "Acme Grinders",
    }

    # Before the owner decides, B knows the thing and nothing of its owner.
    learnt = b.run(
        """
        from didcomm.models import InboundMessage
        print(json.dumps({"bodies": [m.body for m in InboundMessage.objects.all()]}))
        """
    )
    assert "alice" not in json.dumps(learnt)

    a.run(
        """
        from owners.models import Owner
        from sharing.introductions import introduction_accept
        introduction_accept(owner=Owner.objects.get(username="alice"), introduction_id=introduction_id)
        print(json.dumps({}))
        """,
        introduction_id=introduction_id,
    )
    a.wait(
        "Introduction.objects.get(pk=introduction_id).state == 'connected'",
        setup=f"from sharing.models import Introduction\nintroduction_id = {introduction_id}\n",
        what="the owner's agent to connect with the manufacturer's",
    )
    # B's side of the connection is about the thing: its DID, GTIN and serial (not a twin of B's).
    subjects = b.run(
        """
        from sharing.models import ConnectionSubject
        rows = ConnectionSubject.objects.filter(connection__state="completed")
        print(json.dumps({"subjects": [[s.thing_did, s.gtin, s.serial, s.twin_id] for s in rows]}))
        """
    )
    assert subjects["subjects"] == [[thing, GTIN, SERIAL, None]]

    # The owner grants Acme the readings; a reading on A reaches B.
    a.run(
        """
        from owners.models import Owner
        from sharing.grants import grant_create
        from sharing.models import Introduction
        from twins.services import reading_add
        introduction = Introduction.objects.select_related("twin", "owner_connection").get(pk=introduction_id)
        alice = Owner.objects.get(username="alice")
        grant_create(twin=introduction.twin, party=introduction.owner_connection, kinds=["readings"], by=alice)
        reading_add(twin=introduction.twin, value=17.5, kind="grams", unit="g")
        print(json.dumps({}))
        """,
        introduction_id=introduction_id,
    )
    b.wait(
        "ReceivedNotification.objects.filter(thing=thing).exists()",
        setup=f"from sharing.models import ReceivedNotification\nthing = {thing!r}\n",
        what="the granted reading to arrive at the manufacturer",
    )
    received = b.run(
        """
        from sharing.models import ReceivedNotification
        rows = ReceivedNotification.objects.filter(thing=thing)
        print(json.dumps({"kinds": sorted({r.kind for r in rows}), "body": json.dumps([r.body for r in rows])}))
        """,
        thing=thing,
    )
    assert received["kinds"] == ["readings"] and "17.5" in received["body"]

    # A recall of that serial, issued on B, reaches the owner on A (over the introduced connection).
    b.run(
        """
        from makers.models import Organisation
        from makers.recalls import recall_issue
        recall_issue(
            organisation=Organisation.objects.get(slug="acme"), by=None, gtin=gtin, title="Burr may crack",
            text="Stop using it and contact us.", severity="critical", serials=[serial],
        )
        print(json.dumps({}))
        """,
        gtin=GTIN,
        serial=SERIAL,
    )
    a.wait(
        "Notification.objects.filter(owner__username='alice', kind='recall').exists()",
        setup="from owners.models import Notification\n",
        what="the recall to reach the owner",
    )
    recall = a.run(
        """
        from owners.models import Notification
        item = Notification.objects.get(owner__username="alice", kind="recall")
        print(json.dumps({"title": item.title, "twin": item.twin_id}))
        """
    )
    assert recall == {"title": "Recall: Burr may crack", "twin": started["twin"]}
