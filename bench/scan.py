"""Scan benchmark: a stranger opening a tag URL, against the same server's constant page of equal size.

Starts the app as in production on loopback: a fresh PostgreSQL database (migrated, seeded with an owner and a
thing with a tag and public fields on), Redis for the cache, rate limits and the scan buffer, DEBUG off, several
workers, and the task worker that writes buffered scans to the database, as production runs it (`manage.py worker`,
the README's command: django-tasks-db's `db_worker` loop with the lease reaper and periodic jobs beside it).
Each server is measured with wrk (`-t2 -c32 --latency`): a short warm-up of both URLs, then the constant page and
the scan page for BENCH_SECONDS each, interleaved over BENCH_ROUNDS rounds so noise hits both alike. After each
server, the bench checks that every scan served became a Scan row (the worker drains the buffer).

Servers: gunicorn (WSGI) with sync workers and with the gthread workers of the README's production command, and
uvicorn (ASGI) with 2 workers, for comparison; production serves HTTP through gunicorn and only WebSockets
through ASGI. `BENCH_SERVERS=sync,gthread,uvicorn` picks a subset. The database is dropped at the end.

Run: `.venv/bin/python bench/scan.py` (or `make bench`). Needs wrk, PostgreSQL and Redis on loopback.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _server as srv

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
GUNICORN_WORKERS = os.environ.get("BENCH_GUNICORN_WORKERS", "4")
UVICORN_WORKERS = os.environ.get("BENCH_UVICORN_WORKERS", "2")
SERVERS = os.environ.get("BENCH_SERVERS", "sync,gthread,uvicorn").split(",")
WITH_WORKER = os.environ.get("BENCH_WORKER", "1") == "1"
# At most this long after each server for the worker to catch up (scans, notification, history entries).
DRAIN_SECONDS = float(os.environ.get("BENCH_DRAIN_SECONDS", "20"))
TARGET_RPS, TARGET_RATIO = 2000, 0.5

SEED = """
from owners.models import Owner
from tags.models import Tag
from twins import services
owner = Owner.objects.create(username="bench", email="bench@example.org")
twin = services.twin_create(owner=owner, name="Benchmark grinder", reading_kind="grind", reading_unit="setting")
services.twin_update(
    twin=twin, use_profile_contact=False, show_thing_name=True,
    contact_name="Bench Owner", show_name=True, contact_message="Please message me", show_message=True,
    contact_email="bench@example.org", show_email=False,
)
print(Tag.objects.create(twin=twin).token)
"""


def server_commands(port: int) -> dict[str, tuple[str, list[str]]]:
    bind = f"127.0.0.1:{port}"
    gunicorn = [str(srv.BIN / "gunicorn"), "config.wsgi", "-b", bind, "--log-level", "warning"]
    return {
        "sync": (f"gunicorn WSGI, {GUNICORN_WORKERS} sync workers", [*gunicorn, "-w", GUNICORN_WORKERS]),
        "gthread": (
            f"gunicorn WSGI, {GUNICORN_WORKERS} gthread workers × 4 threads (README production)",
            [*gunicorn, "-w", GUNICORN_WORKERS, "--worker-class", "gthread", "--threads", "4"],
        ),
        "uvicorn": (
            f"uvicorn ASGI, {UVICORN_WORKERS} workers",
            [
                str(srv.BIN / "uvicorn"),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                UVICORN_WORKERS,
                "--log-level",
                "warning",
                "--no-access-log",
            ],
        ),
    }


def reset_scan_buffer() -> None:
    """A previous run's buffered scans name tag ids of a dropped database: never let this run flush them."""
    import redis

    redis.Redis.from_url(srv.REDIS).delete("tags:scan-buffer", "tags:scan-flush-pending")


def scan_count(db: str) -> int:
    return int(srv.psql("SELECT count(*) FROM tags_scan WHERE NOT by_owner", db))


TASKS_TABLE = "django_tasks_database_dbtaskresult"


def tasks_run(db: str) -> dict[str, int]:
    rows = srv.psql(f"SELECT task_path, count(*) FROM {TASKS_TABLE} GROUP BY task_path", db)
    return {path.rsplit(".", 1)[-1]: int(n) for path, n in (row.split("|") for row in rows.splitlines() if row)}


def wait_for_worker(db: str, at_least: int, timeout: float = DRAIN_SECONDS) -> tuple[int, float]:
    """Wait until the worker has written at least `at_least` scans and has no task left (the scan history
    batches too, so they do not run into the next server's measurement); return the scan count and the seconds
    it took."""
    start = time.monotonic()
    # Requests still in flight when wrk stopped are served (and recorded) after its count: let them land.
    time.sleep(1.0)
    while time.monotonic() - start < timeout:
        pending = int(srv.psql(f"SELECT count(*) FROM {TASKS_TABLE} WHERE status IN ('READY', 'RUNNING')", db))
        if pending == 0 and scan_count(db) >= at_least:
            break
        time.sleep(0.25)
    return scan_count(db), time.monotonic() - start


def measure(key: str, port: int, env: dict[str, str], token: str, db: str, worker: subprocess.Popen | None) -> dict:
    name, command = server_commands(port)[key]
    base = f"http://127.0.0.1:{port}"
    scan_url, served, runs, lost = f"{base}/t/{token}", 0, 0, 0
    before, tasks_before = scan_count(db), tasks_run(db)
    process = srv.serve(command, env)
    try:
        started = srv.wait_for(f"{base}/healthz", process)
        page = srv.get(scan_url)
        served += 1
        size = len(page)
        assert b"Benchmark grinder" in page and b"bench@example.org" not in page, "unexpected public page"
        constant_url = f"{base}/bench/constant?size={size}"
        if len(srv.get(constant_url)) != size:
            raise SystemExit("the constant page is not the size asked for")
        warmup = srv.wrk(scan_url, seconds=WARMUP, connections=CONNECTIONS)
        served, lost = served + warmup["requests"], warmup["errors"]
        srv.wrk(constant_url, seconds=WARMUP, connections=CONNECTIONS)
        runs += 1
        if worker is not None:  # the warm-up's scans must not be written while the constant page is measured
            wait_for_worker(db, before + served)
        # The worker's CPU per scan is counted over the measured rounds only: not its idle polling while the server
        # started (tens of seconds on a loaded machine), nor its first tasks' one-off imports during the warm-up.
        cpu_before, measured = srv.cpu_seconds(worker), 0
        scans, constants = [], []
        for _ in range(ROUNDS):
            # The server's own CPU per request too: on a shared machine it moves far less than requests/s do.
            for rows, url in ((constants, constant_url), (scans, scan_url)):
                cpu = srv.cpu_seconds(process)
                rows.append(srv.wrk(url, seconds=SECONDS, connections=CONNECTIONS))
                rows[-1]["cpu_us"] = 1e6 * (srv.cpu_seconds(process) - cpu) / max(rows[-1]["requests"], 1)
            served += scans[-1]["requests"]
            measured += scans[-1]["requests"]
            lost += scans[-1]["errors"]
            runs += 1
    finally:
        srv.stop(process)
    result = {"key": key, "server": name, "size": size, "served": served, "measured": measured, "start_s": started}
    for label, rows in (("scan", scans), ("constant", constants)):
        result[label] = {k: sum(row[k] for row in rows) / len(rows) for k in ("rps", "p50", "p99")}
        result[label]["cpu_us"] = statistics.median(row["cpu_us"] for row in rows)
        result[label]["errors"] = sum(row["errors"] for row in rows)
    result["ratio"] = result["scan"]["rps"] / result["constant"]["rps"]
    # Each round's scan figure against the constant page measured right before it (the machine drifts).
    result["round_ratios"] = [s["rps"] / c["rps"] for s, c in zip(scans, constants, strict=True)]
    result["median_ratio"] = statistics.median(result["round_ratios"])
    result["median_scan_rps"] = statistics.median(s["rps"] for s in scans)
    if worker is not None:
        count, waited = wait_for_worker(db, before + served)
        result["recorded"], result["drain_s"] = count - before, waited
        result["worker_cpu"] = srv.cpu_seconds(worker) - cpu_before
        result["history_backlog"] = int(srv.psql("SELECT count(*) FROM tags_scan WHERE NOT in_history", db))
        tasks_after = tasks_run(db)
        result["tasks"] = {k: n - tasks_before.get(k, 0) for k, n in tasks_after.items() if n > tasks_before.get(k, 0)}
        # wrk counts completed responses; each connection may have had one more request in flight at the end, and
        # a request wrk gave up on (a timeout on a loaded machine: its socket errors) may still have been served.
        result["slack"] = CONNECTIONS * runs + lost
        result["recorded_ok"] = served <= result["recorded"] <= served + result["slack"]
        result["recorded_ok"] &= result["history_backlog"] == 0  # and the signed history commits to each of them
    return result


def report(results: list[dict], load_before: float) -> None:
    print(
        f"Scan benchmark: GET /t/<token> as a stranger vs /bench/constant of the same size; wrk -t2 -c{CONNECTIONS}, "
        f"{ROUNDS}×{SECONDS:g}s per URL after {WARMUP:g}s warm-ups; PostgreSQL + Redis, DEBUG off, "
        f"task worker {'running' if WITH_WORKER else 'off (scans left in Redis)'}; {os.cpu_count()} CPUs, "
        f"load average before {load_before:.1f}"
    )
    print(f"{'server':70} {'URL':9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}")
    for r in results:
        for label in ("scan", "constant"):
            row = r[label]
            errors = f"  ({row['errors']} socket errors)" if row["errors"] else ""
            print(f"{r['server']:70} {label:9} {row['rps']:7.0f} {row['p50']:7.2f} {row['p99']:7.2f}{errors}")
        met = "met" if r["scan"]["rps"] >= TARGET_RPS and r["ratio"] >= TARGET_RATIO else "missed"
        print(
            f"{'':70} {'ratio':9} {r['ratio']:7.2f}  scan/constant, page {r['size']} B; "
            f"targets ≥{TARGET_RPS} req/s and ≥{TARGET_RATIO}: {met}"
        )
        if len(r["round_ratios"]) > 1:
            rounds = " ".join(f"{ratio:.2f}" for ratio in r["round_ratios"])
            print(
                f"{'':70} {'rounds':9} ratio per round {rounds}: median {r['median_ratio']:.2f}, "
                f"median scan {r['median_scan_rps']:.0f} req/s"
            )
        cpu_line = (
            f"server CPU per request (median of rounds): scan {r['scan']['cpu_us']:.0f} µs, "
            f"constant {r['constant']['cpu_us']:.0f} µs"
        )
        if "worker_cpu" in r:
            per_scan = 1e6 * r["worker_cpu"] / max(r["measured"], 1)
            cpu_line += (
                f"; with the worker's {per_scan:.0f} µs per scan, CPU ratio "
                f"{r['constant']['cpu_us'] / (r['scan']['cpu_us'] + per_scan):.2f}"
            )
        print(f"{'':70} {'cpu':9} {cpu_line}")
        print(f"{'':70} {'start':9} first answer {r['start_s']:.1f} s after the server was started")
        if "recorded" in r:
            tasks = ", ".join(f"{n} {name}" for name, n in sorted(r["tasks"].items()))
            print(
                f"{'':70} {'worker':9} {r['recorded']} of {r['served']} scans served recorded as Scan rows "
                f"({r['drain_s']:.1f} s to drain); {r['worker_cpu']:.1f} CPU-s "
                f"over the {r['measured']} scans of the rounds ({1e6 * r['worker_cpu'] / max(r['measured'], 1):.0f} "
                f"µs per scan); tasks: {tasks or 'none'}; "
                f"{r['history_backlog']} scans not yet in the signed history"
            )
            if not r["recorded_ok"]:
                print(
                    f"{'':70} {'FAILED':9} {r['recorded']} scans recorded for {r['served']} served: every scan "
                    f"served must be recorded, and at most {r['slack']} more (in flight or given up on by wrk), "
                    f"each in the signed history ({r['history_backlog']} not)"
                )
    print("Production serves HTTP (tag scans included) through gunicorn gthread (README); ASGI only for /ws/.")
    if load_before > 1.0:
        print(f"Note: the machine was busy before the run (load {load_before:.1f}): absolute figures are low.")


def main() -> int:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    unknown = set(SERVERS) - {"sync", "gthread", "uvicorn"}
    if unknown:
        raise SystemExit(f"BENCH_SERVERS: unknown {', '.join(sorted(unknown))} (sync, gthread, uvicorn)")
    load_before = srv.load_average()
    db = f"thingstead_bench_{os.getpid()}"
    port = srv.free_port()
    env = srv.production_env(db=db, port=port, RATE_SCAN_PER_CLIENT="1000000000/60")
    reset_scan_buffer()
    srv.psql(f"CREATE DATABASE {db}")
    worker = None
    try:
        srv.manage(env, "migrate", "-v0")
        token = srv.manage(env, "shell", "-v0", "-c", SEED).strip().splitlines()[-1]
        if WITH_WORKER:
            worker = srv.serve([srv.PYTHON, "manage.py", "worker", "--no-startup-delay", "--no-reload"], env)
            srv.settle([worker])  # its start-up (importing Django) is not counted as CPU spent on scans
        results = [measure(key, port, env, token, db, worker) for key in SERVERS]
    finally:
        if worker is not None:
            srv.stop(worker)
        reset_scan_buffer()
        srv.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    report(results, load_before)
    return 0 if all(r.get("recorded_ok", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
