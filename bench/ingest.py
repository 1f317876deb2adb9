"""Ingestion benchmark: signed webhook batches and single readings, against a raw COPY of the same rows.

Starts the app as in production (PostgreSQL, Redis, DEBUG off) on loopback: the ingest gateway, which serves
`POST /hooks/` in production (`manage.py ingest_gateway`, BENCH_GATEWAY_WORKERS processes, default 2), and for
comparison the web app's own `/hooks/` (gunicorn as the README's production command: 4 gthread workers of 4
threads; BENCH_GUNICORN_THREADS=0 gives sync workers); seeds one owner with 50 things and a source feeding them
all, then in one run:

1. batch ingestion against the COPY floor, in BENCH_BATCH_ROUNDS rounds (default 4), each a psycopg COPY of
   100,000 rows like the batches' (twin, kind, value, unit, time, source) into twins_reading, then a quarter of the
   time of signed Standard Webhooks messages of 1,000 readings each (two things per batch, so two history entries
   per message), posted by a few client threads over keep-alive connections; readings/s, and the median of the
   rounds' ratios (interleaved: the machine drifts);
2. single readings: wrk replaying pre-signed one-reading messages (each a distinct webhook-id with a fresh
   timestamp, so every request verifies, dedupes and stores); requests/s. The messages name one of 50 things of
   the source in turn (a fleet; BENCH_SPREAD), then in a second run only the same two things, whose two twin row
   locks (held from the history append to COMMIT) serialize the requests; and once more through the web app
   (gunicorn, one message per request and one COMMIT each: what `make run` serves), as the baseline;
3. push latency: Daphne serves config.asgi for WebSockets (Redis channel layer, as in production); a client
   holds the thing's private-page socket open (signed in by session cookie) while single signed webhooks are
   posted one at a time to the gateway; p50/p95 from sending the webhook to receiving its push.

The task worker (`db_worker`) runs throughout, as in production: small messages get their history entry from it
(ingest.history), so its CPU competes with the servers for the same cores. After the single webhooks the bench
waits for it to drain and checks that every stored reading is committed to by a history entry (BENCH_WORKER=0
leaves them pending, to see the request path alone).

Prints each figure against its target, the batch rounds' ratios one by one with the load average around them,
and the gateway's CPU per batch. Bounded to about two minutes. BENCH_PARTS=batch runs the batch rounds alone
(without the web app and Daphne), to compare two versions of the batch path in the same minutes. Run:
`python bench/ingest.py` (the push figure needs the `websockets` client from requirements-dev.txt).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _server as srv

from ssi import webhooks  # after the path insert: the bench runs as a script

GATEWAY_WORKERS = os.environ.get("BENCH_GATEWAY_WORKERS", "2")
WORKERS = os.environ.get("BENCH_GUNICORN_WORKERS", "4")
THREADS = os.environ.get("BENCH_GUNICORN_THREADS", "4")
DURATION = int(os.environ.get("BENCH_SECONDS", "8"))
BATCH = 1000
BATCH_CLIENTS = int(os.environ.get("BENCH_BATCH_CLIENTS", "4"))
COPY_ROWS = int(os.environ.get("BENCH_COPY_ROWS", "100000"))
BATCH_ROUNDS = int(os.environ.get("BENCH_BATCH_ROUNDS", "4"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
SINGLE_REQUESTS = int(os.environ.get("BENCH_SINGLE_REQUESTS", "150000"))
PUSHES = int(os.environ.get("BENCH_PUSHES", "300"))
# Single webhooks name one of this many things of the source (a fleet), and in a second run only two things.
SPREAD = int(os.environ.get("BENCH_SPREAD", "50"))
WITH_WORKER = os.environ.get("BENCH_WORKER", "1") == "1"
# What to run: "all", or "batch" for the batch rounds alone (comparing two versions of the batch path quickly).
PARTS = os.environ.get("BENCH_PARTS", "all")
DRAIN_SECONDS = float(os.environ.get("BENCH_DRAIN_SECONDS", "60"))
TASKS_TABLE = "django_tasks_database_dbtaskresult"

SEED = """
SPREAD = {spread}
from owners.models import Owner
from ingest import services as ingest
from twins import services
owner, _ = Owner.objects.get_or_create(username="bench", defaults={"email": "bench@example.org"})
kettle = services.twin_create(owner=owner, name="Kettle", reading_kind="temp", reading_unit="°C")
fridge = services.twin_create(owner=owner, name="Fridge", reading_kind="temp", reading_unit="°C")
source, secret = ingest.source_create(owner=owner, name="Bench", rate_limit="1000000000/60")
ingest.source_link_thing(source=source, twin=kettle, external_id="k")
ingest.source_link_thing(source=source, twin=fridge, external_id="f")
for n in range(2, SPREAD):
    twin = services.twin_create(owner=owner, name=f"Meter {n}", reading_kind="temp", reading_unit="°C")
    ingest.source_link_thing(source=source, twin=twin, external_id=f"t{n}")
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
session = SessionStore()
session[SESSION_KEY] = str(owner.pk)
session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
session[HASH_SESSION_KEY] = owner.get_session_auth_hash()
session.create()
print(source.public_id, secret, kettle.pk, kettle.slug, settings.SESSION_COOKIE_NAME, session.session_key)
"""

WRK_SCRIPT = """
local requests = {}
local count = 0
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local nthreads = tonumber(args[2])
  local file = io.open(args[1], "r")
  local index = 0
  for line in file:lines() do
    if index % nthreads == id then
      local msg_id, ts, sig, body = line:match("^(%S+)\\t(%S+)\\t(%S+)\\t(.*)$")
      table.insert(requests, wrk.format("POST", nil, {
        ["Content-Type"] = "application/json",
        ["webhook-id"] = msg_id,
        ["webhook-timestamp"] = ts,
        ["webhook-signature"] = sig,
      }, body))
    end
    index = index + 1
  end
  file:close()
  count = #requests
  position = 0
end

function request()
  position = position + 1
  if position > count then
    position = 1  -- replays from here on: the run should be sized to avoid this (BENCH_SINGLE_REQUESTS)
  end
  return requests[position]
end
"""


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def batch_body(n: int) -> bytes:
    start = datetime.now(UTC) - timedelta(days=1) + timedelta(seconds=n)
    readings = [
        {"thing": "k" if i % 2 else "f", "value": 20 + (i % 97) / 10, "time": iso(start + timedelta(milliseconds=i))}
        for i in range(BATCH)
    ]
    return json.dumps({"readings": readings}).encode()


class CopyFloor:
    """The floor: psycopg COPY of COPY_ROWS rows like the batches' (twin, kind, value, unit, time, source) into
    twins_reading, on its own connection, those rows (and only those) deleted again after each COPY."""

    def __init__(self, dsn: str, twin_id: int) -> None:
        import psycopg

        now = datetime.now(UTC)
        self.twin_id = twin_id
        self.created_at = now  # marks the floor's rows: the batches store readings of the same thing meanwhile
        self.rows = [
            (twin_id, "temp", 20 + (i % 97) / 10, "°C", now - timedelta(seconds=i), "api", "", now, False, "", "")
            for i in range(COPY_ROWS)
        ]
        self.conn = psycopg.connect(dsn)
        # The floor goes into the table the batches fill, whatever its shape (partitioned by month on PostgreSQL
        # since twins 0012): a COPY into the parent is routed to the partitions, as the batches' COPY is.
        self.shape = self.conn.execute(
            "SELECT CASE c.relkind WHEN 'p' THEN 'partitioned, ' || count(i.inhrelid) || ' partitions' ELSE 'plain'"
            " END FROM pg_class c LEFT JOIN pg_inherits i ON i.inhparent = c.oid"
            " WHERE c.oid = 'twins_reading'::regclass GROUP BY c.relkind"
        ).fetchone()[0]
        self.conn.commit()  # no transaction (and no lock on twins_reading) held until the first COPY

    def rows_per_second(self) -> float:
        started = time.perf_counter()
        with self.conn.cursor() as cursor:
            with cursor.copy(
                "COPY twins_reading (twin_id, kind, value, unit, time, source, note, created_at, device_signed,"
                " device_key, signature) FROM STDIN"
            ) as copy:
                for row in self.rows:
                    copy.write_row(row)
        self.conn.commit()
        elapsed = time.perf_counter() - started
        self.conn.execute(
            "DELETE FROM twins_reading WHERE twin_id = %s AND created_at = %s", [self.twin_id, self.created_at]
        )
        self.conn.commit()
        return len(self.rows) / elapsed

    def close(self) -> None:
        self.conn.close()


def batch_rounds(
    port: int, public_id: str, secret: str, floor: CopyFloor, gateway: subprocess.Popen | None = None
) -> dict[str, Any]:
    """BATCH_ROUNDS rounds of one COPY (the floor) followed by DURATION / BATCH_ROUNDS seconds of batches, and the
    ratio per round. Interleaved because these machines drift: a floor measured a minute before the batches
    compares two different machines (runs with one floor first moved the ratio between 0.33 and 0.50). Also the
    gateway's CPU (all its processes) per 1,000-reading batch, and the load average around the rounds."""
    ratios, floors, stored, seconds = [], [], 0, 0.0
    load_before = os.getloadavg()[0]
    cpu = 0.0
    for round_ in range(BATCH_ROUNDS):
        floor_rps = floor.rows_per_second()
        cpu_before = srv.cpu_seconds(gateway)
        started = time.perf_counter()
        rate, count = batch_load(port, public_id, secret, DURATION / BATCH_ROUNDS, f"r{round_}")
        seconds += time.perf_counter() - started
        cpu += srv.cpu_seconds(gateway) - cpu_before
        stored += count
        floors.append(floor_rps)
        ratios.append(rate / floor_rps)
    return {
        "ratios": ratios,
        "floors": floors,
        "load": (load_before, os.getloadavg()[0]),
        "gateway_ms": 1000 * cpu / max(stored / BATCH, 1),
        "rps": stored / seconds,
        "stored": stored,
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "floor": statistics.median(floors),
        "table": floor.shape,
    }


def batch_report(batches: dict[str, Any]) -> str:
    rounds = ", ".join(f"{ratio:.2f}" for ratio in batches["ratios"])
    floors = ", ".join(f"{floor / 1000:.1f}k" for floor in batches["floors"])
    return (
        f"  COPY floor           {batches['floor']:10.0f} readings/s  (median of {BATCH_ROUNDS} COPYs of"
        f" {COPY_ROWS} rows into twins_reading ({batches['table']}), one before each round of batches: {floors})\n"
        f"  webhook batches      {batches['rps']:10.0f} readings/s  ({BATCH_CLIENTS} clients, {BATCH} readings per"
        f" message, {batches['stored']} stored; the gateway's CPU {batches['gateway_ms']:.1f} ms per batch)\n"
        f"  ratio batch / COPY   {batches['ratio']:10.2f}  (median of the {BATCH_ROUNDS} rounds' ratios: {rounds};"
        f" every round >= 0.5: {'yes' if min(batches['ratios']) >= 0.5 else 'no'};"
        f" {batches['rps'] / 20000:.2f}x the 20,000/s; load average {batches['load'][0]:.1f} before,"
        f" {batches['load'][1]:.1f} after)\n"
    )


def batch_load(port: int, public_id: str, secret: str, seconds: float, prefix: str) -> tuple[float, int]:
    """Readings/s over `seconds` of BATCH_CLIENTS threads posting signed 1,000-reading batches (webhook-ids start
    with `prefix`)."""
    bodies = [batch_body(n) for n in range(8)]
    stop_at = time.monotonic() + seconds
    counts = [0] * BATCH_CLIENTS
    errors: list[str] = []

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n = 0
        while time.monotonic() < stop_at:
            body = bodies[n % len(bodies)]
            headers = webhooks.headers_for(secret, f"batch-{prefix}-{index}-{n}", int(time.time()), body)
            headers["Content-Type"] = "application/json"
            conn.request("POST", f"/hooks/{public_id}", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                errors.append(f"{response.status} {payload[:200]!r}")
                return
            counts[index] += BATCH
            n += 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(BATCH_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"batch ingestion failed: {errors[0]}")
    return sum(counts) / elapsed, sum(counts)


def thing_of(n: int, spread: int) -> str:
    """External id of the thing message `n` names: k, f, t2 … t<spread-1> in turn."""
    index = n % spread
    return "k" if index == 1 else "f" if index == 0 else f"t{index}"


def single_requests_file(path: Path, secret: str, count: int, spread: int, prefix: str) -> None:
    now = int(time.time())
    with path.open("w") as out:
        for n in range(count):
            body = json.dumps({"thing": thing_of(n, spread), "value": 20 + (n % 97) / 10})
            msg_id = f"{prefix}-{n}"
            signature = webhooks.sign(secret, msg_id, now, body.encode())
            out.write(f"{msg_id}\t{now}\t{signature}\t{body}\n")


def single_load(port: int, public_id: str, requests_file: Path) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        return srv.wrk(
            f"http://127.0.0.1:{port}/hooks/{public_id}",
            seconds=DURATION,
            connections=CONNECTIONS,
            script=script.name,
            script_args=(str(requests_file), "2"),
        )
    finally:
        os.unlink(script.name)


def push_latency(port: int, ws_port: int, public_id: str, secret: str, slug: str, cookie: str) -> dict[str, float]:
    """Send→push latency over PUSHES webhooks, one at a time, with the private page's socket open."""
    import asyncio

    from websockets.asyncio.client import connect

    async def run() -> list[float]:
        latencies = []
        url = f"ws://127.0.0.1:{ws_port}/ws/twins/{slug}/"
        headers = {"Cookie": cookie}
        async with connect(url, additional_headers=headers, origin=f"http://127.0.0.1:{ws_port}") as ws:
            await asyncio.sleep(0.3)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for n in range(PUSHES):
                value = 1000 + n
                body = json.dumps({"thing": "k", "value": value}).encode()
                headers = webhooks.headers_for(secret, f"push-{n}", int(time.time()), body)
                headers["Content-Type"] = "application/json"
                started = time.perf_counter()
                # The POST runs in a thread so the push can arrive before the response does.
                post = asyncio.to_thread(_post, conn, public_id, body, headers)
                task = asyncio.ensure_future(post)
                while True:
                    event = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                    if event.get("kind") == "reading" and event["reading"]["value"] == value:
                        break
                latencies.append((time.perf_counter() - started) * 1000)
                status = await task
                if status != 200:
                    raise SystemExit(f"push webhook answered {status}")
                await asyncio.sleep(0.01)
            conn.close()
        return latencies

    latencies = sorted(asyncio.run(run()))
    return {
        "p50": latencies[len(latencies) // 2],
        "p95": latencies[int(len(latencies) * 0.95) - 1],
        "count": len(latencies),
    }


def _post(conn: http.client.HTTPConnection, public_id: str, body: bytes, headers: dict[str, str]) -> int:
    conn.request("POST", f"/hooks/{public_id}", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def history_coverage(db: str) -> tuple[int, int, int]:
    """Readings stored, readings committed to by history entries, pending reading rows left."""
    row = srv.psql(
        "SELECT (SELECT count(*) FROM twins_reading),"
        " (SELECT coalesce(sum(CASE WHEN entry->'content' ? 'readings'"
        "  THEN jsonb_array_length(entry->'content'->'readings') ELSE 1 END), 0)"
        "  FROM twins_historyentry WHERE kind = 'reading'),"
        " (SELECT count(*) FROM ingest_pendingreadings)",
        db,
    )
    stored, committed, pending = (int(n) for n in row.split("|"))
    return stored, committed, pending


def drain(db: str) -> float:
    """Wait until the worker has no task left and no reading is pending; the seconds it took."""
    start = time.monotonic()
    time.sleep(0.5)  # requests in flight when wrk stopped still commit
    while time.monotonic() - start < DRAIN_SECONDS:
        busy = int(srv.psql(f"SELECT count(*) FROM {TASKS_TABLE} WHERE status IN ('READY', 'RUNNING')", db))
        if busy == 0 and history_coverage(db)[2] == 0:
            break
        time.sleep(0.25)
    return time.monotonic() - start


def main() -> int:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    db = f"thingstead_bench_ingest_{os.getpid()}"
    port = srv.free_port()
    gw_port = srv.free_port()
    ws_port = srv.free_port()
    env = srv.production_env(db=db, port=port)
    dsn = env["DATABASE_URL"]
    srv.psql(f"CREATE DATABASE {db}")
    server = gateway = daphne = worker = None
    try:
        srv.manage(env, "migrate", "-v0")
        seeded = srv.manage(env, "shell", "-v0", "-c", SEED.replace("{spread}", str(SPREAD)))
        public_id, secret, twin_id, slug, cookie_name, session_key = seeded.strip().splitlines()[-1].split()

        floor = CopyFloor(dsn.replace("postgres://", "postgresql://"), int(twin_id))

        gunicorn = str(srv.BIN / "gunicorn")
        command = [gunicorn, "config.wsgi", "-w", WORKERS, "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
        if THREADS != "0":
            command += ["--worker-class", "gthread", "--threads", THREADS]
        if PARTS != "batch":  # the web app serves the single webhooks' baseline only
            server = srv.serve(command, env)
            srv.wait_for(f"http://127.0.0.1:{port}/healthz", server)
        gateway = srv.serve(
            [srv.PYTHON, "manage.py", "ingest_gateway", "--port", str(gw_port), "--workers", GATEWAY_WORKERS], env
        )
        srv.wait_for(f"http://127.0.0.1:{gw_port}/healthz", gateway)
        if PARTS != "batch":  # the pushes' WebSockets
            daphne = srv.serve(
                [str(srv.BIN / "daphne"), "-b", "127.0.0.1", "-p", str(ws_port), "config.asgi:application"], env
            )
            srv.wait_for(f"http://127.0.0.1:{ws_port}/healthz", daphne)
        if WITH_WORKER:
            worker = srv.serve([srv.PYTHON, "manage.py", "db_worker", "--no-startup-delay", "--no-reload"], env)
        srv.settle([server, gateway, daphne, worker])  # measured only once every process has finished starting

        batches = batch_rounds(gw_port, public_id, secret, floor, gateway)
        floor.close()
        if PARTS == "batch":
            print(batch_report(batches), end="")
            return 0
        push = push_latency(gw_port, ws_port, public_id, secret, slug, f"{cookie_name}={session_key}")

        with tempfile.TemporaryDirectory() as tmp:
            requests_file = Path(tmp) / "requests.tsv"
            single_requests_file(requests_file, secret, SINGLE_REQUESTS, SPREAD, "single")
            cpu_before = srv.cpu_seconds(worker)
            single = single_load(gw_port, public_id, requests_file)
            worker_cpu = srv.cpu_seconds(worker) - cpu_before
            single_requests_file(requests_file, secret, SINGLE_REQUESTS, 2, "single2")
            single_two = single_load(gw_port, public_id, requests_file)
            single_requests_file(requests_file, secret, SINGLE_REQUESTS, SPREAD, "web")
            single_web = single_load(port, public_id, requests_file)
        drained = drain(db) if worker is not None else 0.0
        coverage = history_coverage(db)
    finally:
        for process in (server, gateway, daphne, worker):
            if process is not None:
                srv.stop(process)
        srv.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")

    out = io.StringIO()
    out.write(
        f"Ingestion benchmark: PostgreSQL + Redis, DEBUG off, ingest gateway {GATEWAY_WORKERS} processes (web app:"
        f" gunicorn {WORKERS} {f'gthread workers × {THREADS} threads' if THREADS != '0' else 'sync workers'}), task"
        f" worker {'running' if WITH_WORKER else 'off'}, {DURATION}s, {os.cpu_count()} CPUs\n"
    )
    out.write(batch_report(batches))
    out.write(
        f"  single webhooks      {single['rps']:10.0f} requests/s  (wrk -c{CONNECTIONS}, p50 {single['p50']:.2f} ms,"
        f" p99 {single['p99']:.2f} ms, {single['requests']} requests)\n"
    )
    out.write(f"  ratio single / target {single['rps'] / 1000:9.2f}  (target >= 1,000 requests/s)\n")
    out.write(
        f"  (the same through the web app's own /hooks/, one COMMIT per message: {single_web['rps']:.0f} requests/s,"
        f" p50 {single_web['p50']:.2f} ms; the gateway {single['rps'] / single_web['rps']:.2f}x that)\n"
    )
    out.write(
        f"  (single webhooks spread over {SPREAD} things of the source; all to the same 2 things, where requests"
        f" queue on 2 twin row locks: {single_two['rps']:.0f} requests/s, p50 {single_two['p50']:.2f} ms,"
        f" p99 {single_two['p99']:.2f} ms)\n"
    )
    out.write(
        f"  webhook -> push      p50 {push['p50']:.1f} ms, p95 {push['p95']:.1f} ms  ({push['count']} pushes, Daphne +"
        f" Redis channel layer; target p95 <= 50 ms: {push['p95'] / 50:.2f}x)\n"
    )
    stored, committed, pending = coverage
    if WITH_WORKER:
        out.write(
            f"  history              {committed} of {stored} stored readings committed to by history entries,"
            f" {pending} pending, {drained:.1f} s to drain after the last request; task worker"
            f" {1000 * worker_cpu / max(single['requests'], 1):.2f} ms CPU per single webhook\n"
        )
        if committed != stored or pending:
            out.write("  (NOT every stored reading is in the history: see above)\n")
    else:
        out.write(f"  history              task worker off: {pending} pending reading rows left\n")
    if single["requests"] > SINGLE_REQUESTS:
        out.write("  (more requests than pre-signed messages: some were replays; raise BENCH_SINGLE_REQUESTS)\n")
    print(out.getvalue(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
