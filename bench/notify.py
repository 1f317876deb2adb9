"""Notification delivery benchmark: permitted notifications delivered per second over DIDComm to a receiver on
loopback, against the floor of packing the same messages and POSTing them, in the same run.

Setup (not timed): a fresh database (a SQLite file in a temporary folder, or PostgreSQL when DATABASE_URL names
one: a database `bench_notify_<pid>` is created there and dropped at the end), migrated; one twin with its agent,
a completed DIDComm connection to a peer whose endpoint is a plain HTTP receiver in its own process on loopback
(answers 202 to every POST), a grant on that connection, and BENCH_ITEMS outbox items (default 500) whose
batching window has closed, each with a few readings.

Timed, interleaved over BENCH_ROUNDS rounds (default 3; each round puts the items back to pending):
1. ``deliver_item`` as the worker runs it, one task per item, one after another (sharing.attempts.deliver: claim
   with a lease, the grant re-checked, the message built, packed RFC 0019 Authcrypt from the connection's key,
   POSTed through core.netguard, the outcome recorded; then sharing.tasks.drain takes other due items along in a
   batch, and the later tasks find their items delivered);
2. the sweep's batch path (``sharing_deliver_due --here``: claim_batch, FOR UPDATE SKIP LOCKED on PostgreSQL,
   then the same attempt per item);
3. the floor: the same plaintext messages packed with ssi.envelope and POSTed with urllib, nothing else (no
   database, no grant check, no address check).
Prints notifications/s of each and their ratios to the floor (target >= 0.5).

The recall fan-out (100,000 owners) is bench/recall.py's; `make bench` runs both (bench/run_all.py), and
BENCH_NOTIFY_RECALL=1 makes this script run it too and print its summary under "Recall fan-out" (the issue's
one benchmark section: notifications, then recalls).

Run: `.venv/bin/python bench/notify.py` (SQLite), or with `DATABASE_URL=postgres://user@127.0.0.1:5432/postgres`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ITEMS = int(os.environ.get("BENCH_ITEMS", "500"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TARGET = 0.5

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _database() -> tuple[str, str | None]:
    """The DATABASE_URL the bench uses, and the PostgreSQL server URL to drop it from afterwards (or None)."""
    given = os.environ.get("DATABASE_URL", "")
    if given.startswith(("postgres://", "postgresql://")):
        import psycopg

        name = f"bench_notify_{os.getpid()}"
        with psycopg.connect(given, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return urlunsplit(urlsplit(given)._replace(path=f"/{name}")), given
    folder = tempfile.mkdtemp(prefix="bench-notify-")
    return f"sqlite:///{folder}/bench.sqlite3", None


def _drop(url: str, server: str | None) -> None:
    if server is None:
        import shutil

        shutil.rmtree(Path(urlsplit(url).path).parent, ignore_errors=True)
        return
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup(endpoint: str):
    """The twin, its connection to the receiver's "agent", the grant and the items; returns (connection, peer
    verkey, item ids)."""
    from django.core.management import call_command
    from django.db import connection as db
    from django.utils import timezone

    from didcomm import keys, services
    from didcomm.models import Connection
    from owners.models import Owner
    from sharing.models import Grant, OutboxItem
    from ssi.keys import SigningKey
    from twins.services import twin_create

    call_command("migrate", verbosity=0)
    owner = Owner.objects.create(username="bench-owner", email="owner@example.org")
    twin = twin_create(owner=owner, name="Bench thermometer", reading_kind="temp", reading_unit="C")
    peer = SigningKey.generate()
    connection = Connection(agent=services.agent_for_twin(twin), state=Connection.State.COMPLETED)
    keys.pairwise_key_create(connection=connection)
    connection.their_verkey = keys.verkey_of(peer)
    connection.their_endpoint = endpoint
    connection.save()
    grant = Grant.objects.create(twin=twin, connection=connection, kinds=["readings"], created_by=owner)
    at = timezone.now() - timedelta(seconds=10)
    readings = [{"id": i, "kind": "temp", "value": 20 + i / 10, "unit": "C", "time": at.isoformat()} for i in range(5)]
    OutboxItem.objects.bulk_create(
        OutboxItem(grant=grant, twin=twin, kind="readings", payload={"items": readings}, count=5, window_ends_at=at)
        for _ in range(ITEMS)
    )
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("ANALYZE")  # the local server runs without autovacuum (FACTS.md)
    return connection, list(OutboxItem.objects.order_by("id").values_list("id", flat=True))


def reset() -> None:
    from sharing.models import OutboxItem

    OutboxItem.objects.update(status=OutboxItem.Status.PENDING, attempts=0, next_attempt_at=None, delivered_at=None)


def delivered() -> int:
    from sharing.models import OutboxItem

    return OutboxItem.objects.filter(status=OutboxItem.Status.DELIVERED).count()


def run_one_by_one(ids: list[int]) -> float:
    from sharing import tasks

    start = time.perf_counter()
    for item_id in ids:
        tasks.deliver_item.call(item_id)  # the task's body, as the worker runs it (its own item, then a drain)
    return time.perf_counter() - start


def run_batches(batch: int = 100) -> float:
    from sharing import attempts

    start = time.perf_counter()
    while claimed := attempts.claim_batch(limit=batch):
        attempts.deliver_claimed(claimed)
    return time.perf_counter() - start


def run_floor(connection, ids: list[int]) -> float:
    """Pack and POST the same messages: the plaintexts are built beforehand (the floor does no database work)."""
    from django.utils import timezone

    from didcomm.keys import connection_key
    from sharing.models import OutboxItem
    from sharing.send import didcomm_message
    from ssi import envelope

    items = OutboxItem.objects.select_related("twin", "grant").filter(pk__in=ids).order_by("id")
    now = timezone.now()
    plaintexts = [json.dumps(didcomm_message(item, sent_at=now)).encode() for item in items]
    sender = connection_key(connection)
    to = [connection.their_verkey]
    start = time.perf_counter()
    for plaintext in plaintexts:
        packed = envelope.pack(plaintext, to_verkeys=to, from_key=sender)
        request = urllib.request.Request(
            connection.their_endpoint, data=packed, method="POST", headers={"Content-Type": envelope.MEDIA_TYPE}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    return time.perf_counter() - start


def recall_section() -> None:
    """The recall fan-out figures (bench/recall.py, written with the makers' recalls), under this benchmark's
    heading; only with BENCH_NOTIFY_RECALL=1, since `make bench` runs recall.py on its own anyway."""
    script = ROOT / "bench" / "recall.py"
    if os.environ.get("BENCH_NOTIFY_RECALL") != "1" or not script.exists():
        return
    print("\nRecall fan-out (bench/recall.py)", flush=True)
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True)
    print(done.stdout.strip() or done.stderr[-2000:])


def main() -> int:
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    url, server = _database()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    try:
        port = int(receiver.stdout.readline())
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection as db

        settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True  # the receiver listens on loopback
        connection, ids = setup(f"http://127.0.0.1:{port}/didcomm")
        print(f"{db.vendor}: {len(ids)} notifications (5 readings each) over DIDComm to a receiver on loopback")
        ours: list[float] = []
        batched: list[float] = []
        floor: list[float] = []
        for round_ in range(ROUNDS):
            reset()
            ours.append(run_one_by_one(ids))
            assert delivered() == len(ids), delivered()
            reset()
            batched.append(run_batches())
            assert delivered() == len(ids), delivered()
            floor.append(run_floor(connection, ids))
            print(
                f"round {round_ + 1}: deliver_item {ours[-1]:.2f} s, batch {batched[-1]:.2f} s, "
                f"pack+POST floor {floor[-1]:.2f} s",
                flush=True,
            )
        n = len(ids)
        rate, batch_rate, floor_rate = n / min(ours), n / min(batched), n / min(floor)
        print(f"{'what':<44}{'notifications/s':>16}")
        print(f"{'deliver_item (one task per notification)':<44}{rate:>16,.0f}")
        print(f"{'sweep batch (claim_batch + attempts)':<44}{batch_rate:>16,.0f}")
        print(f"{'floor: ssi.envelope.pack + urllib POST':<44}{floor_rate:>16,.0f}")
        # The target is the batch path's: a burst is delivered in batches (one claim, one read, one record per
        # batch); one task per notification pays three commits each, which the floor does not.
        ratio = batch_rate / floor_rate
        print(f"ratio batch / floor: {ratio:.2f} (target >= {TARGET}) {'ok' if ratio >= TARGET else 'MISSED'}")
        print(f"ratio deliver_item / floor: {rate / floor_rate:.2f}")
        db.close()
        recall_section()
        return 0 if ratio >= TARGET else 1
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
        _drop(url, server)


if __name__ == "__main__":
    sys.exit(main())
