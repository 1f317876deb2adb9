"""SIGKILL the task worker in the middle of a burst of notifications, start it again: nothing is lost.

The real thing end to end: 200 outbox items committed in one transaction (each enqueues its delivery task at
commit, into the database task backend), the real worker process (`manage.py worker`), a real receiver on loopback
recording webhook-ids. The worker is killed mid-burst (no cleanup: its task stays RUNNING, its item SENDING under
a lease); the next worker's reaper puts the task back once its lease has run out, the item's own lease has run out
too, and it goes out again with the same webhook-id. Every notification reaches the receiver at least once; after
dedupe on webhook-id each exactly once.

On PostgreSQL the workers share the test database; on SQLite, a database file of this test's own (a copy of one
migrated once for the module), since an in-memory database cannot be shared with another process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection

from ssi import webhooks
from tests.faults.conftest import database_url, wait_for

ROOT = Path(__file__).resolve().parents[2]
BURST = 200
# The task's lease (TASK_LEASE_SECONDS) and the item's (SHARING_DELIVERY_LEASE_SECONDS), in seconds, and how many
# ids may arrive twice: one task per item (a lease shorter than one send's timeout: no batches), or a task that
# takes other due items along in batches (sharing.tasks.drain), whose deliveries are recorded every 50.
PATHS = {"one item per task": (2, 1), "batches": (20, 50)}
SECRET = webhooks.new_secret()

pytestmark = [pytest.mark.django_db(transaction=True)]

SEED = """
import json, sys
import django
django.setup()
from django.db import transaction
from django.utils import timezone
from core.vault import seal
from owners.models import Owner
from sharing.models import Grant, OutboxItem, WebhookEndpoint
from twins.services import twin_create

url, secret, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
owner = Owner.objects.create(username="burst-owner", email="burst@example.org")
twin = twin_create(owner=owner, name="Burst", reading_kind="temp", reading_unit="C")
endpoint = WebhookEndpoint.objects.create(owner=owner, label="burst", url=url, secret_sealed=seal(secret.encode()))
grant = Grant.objects.create(twin=twin, endpoint=endpoint, kinds=["readings"], created_by=owner)
with transaction.atomic():
    at = timezone.now()
    items = [
        OutboxItem.objects.create(
            grant=grant, twin=twin, kind="readings", count=1, window_ends_at=at,
            payload={"items": [{"id": i, "kind": "temp", "value": i, "unit": "C", "time": at.isoformat()}]},
        )
        for i in range(n)
    ]
print(json.dumps([str(item.message_id) for item in items]))
"""

STATUSES = """
import json
import django
django.setup()
from django.db.models import Count
from sharing.models import OutboxItem
print(json.dumps(dict(OutboxItem.objects.values_list("status").annotate(n=Count("id")))))
"""


class Recorder:
    """A receiver that verifies each POST's signature, records its webhook-id, and takes a few milliseconds (so
    the burst lasts long enough to be killed in the middle of)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.bad: list[str] = []
        self.cut = 0
        self.stray: list[str] = []
        self.expected: set[str] = set()
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-body (the SIGKILL this test sends): the connection is gone, there is no
                    # one to answer and nothing to check; the item is sent again in full.
                    with recorder.lock:
                        recorder.cut += 1
                    return
                try:
                    msg_id = webhooks.verify([SECRET], dict(self.headers.items()), body, now=time.time())
                except webhooks.WebhookError as exc:
                    msg_id = self.headers.get("webhook-id") or ""
                    with recorder.lock:
                        # A port freed by an earlier test may be this receiver's now: a sender left over from it
                        # (its own ids, its own secret) is not this burst's, and says nothing about it.
                        if msg_id in recorder.expected:
                            recorder.bad.append(f"{msg_id}: {exc} ({len(body)} bytes)")
                        else:
                            recorder.stray.append(msg_id)
                    self.send_response(400)
                else:
                    time.sleep(0.01)
                    with recorder.lock:
                        recorder.ids.append(msg_id)
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/burst"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.ids)


def _env(db_url: str, lease: int = 2) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.sharing.delivery_worker_settings",
        DATABASE_URL=db_url,
        KILL_TEST_LEASE_SECONDS=str(lease),
        PYTHONUNBUFFERED="1",
    )
    return env


def _run(code: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--interval", "0.1", "--no-startup-delay", "--no-reload"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file migrated once for the module (`manage.py migrate`, the slow part of a test's setup)."""
    path = tmp_path_factory.mktemp("burst-template") / "burst.sqlite3"
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=_env(f"sqlite:///{path}"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return path


@pytest.fixture
def db_url(request, tmp_path) -> str:
    """PostgreSQL: the test database. SQLite: a database file of this test's own, a copy of the migrated one."""
    if connection.vendor == "postgresql":
        return database_url()
    template: Path = request.getfixturevalue("migrated_sqlite")
    for source in template.parent.iterdir():  # the file, and a journal beside it if SQLite left one
        shutil.copyfile(source, tmp_path / source.name)
    return f"sqlite:///{tmp_path / template.name}"


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
def test_a_worker_killed_mid_burst_loses_no_notification_and_each_id_arrives_once_after_dedupe(db_url, tmp_path, path):
    lease, most_twice = PATHS[path]
    recorder = Recorder()
    env = _env(db_url, lease)
    expected = set(json.loads(_run(SEED, env, recorder.url, SECRET, str(BURST))))
    assert len(expected) == BURST
    recorder.expected = expected

    workers = [_worker(env, tmp_path / "worker-0.log")]
    try:
        wait_for(lambda: recorder.count() >= BURST // 4, timeout=60, what="the burst to be under way")
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        killed_at = recorder.count()
        assert killed_at < BURST, "the worker finished before it was killed: nothing was tested"

        workers.append(_worker(env, tmp_path / "worker-1.log"))
        wait_for(lambda: set(recorder.ids) >= expected, timeout=120, what="every notification to arrive")
        statuses = {}

        def all_delivered() -> bool:
            statuses.update(json.loads(_run(STATUSES, env)))
            return statuses == {"delivered": BURST}

        try:
            wait_for(all_delivered, timeout=30, what="every item recorded as delivered")
        except AssertionError:
            logs = "\n".join((tmp_path / f"worker-{i}.log").read_text()[-3000:] for i in range(len(workers)))
            raise AssertionError(f"{statuses}\n{logs}") from None
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        recorder.server.shutdown()
        recorder.server.server_close()

    assert recorder.bad == []
    assert set(recorder.ids) == expected  # every one, and nothing else
    duplicates = len(recorder.ids) - len(set(recorder.ids))
    # At most what was in flight when the worker died (sent, its delivery not yet recorded) is sent twice.
    assert duplicates <= most_twice, duplicates
    if connection.vendor == "postgresql":
        from tests.faults.conftest import _alone_in_the_database

        wait_for(_alone_in_the_database, timeout=15, what="the workers' database sessions to end")
