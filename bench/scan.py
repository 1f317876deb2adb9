"""Scan benchmark: a stranger opening a tag URL, against the same server's constant page of equal size.

Starts the app as in production (PostgreSQL, Redis, DEBUG off, several workers) on loopback, seeds one thing
with a tag, and drives both URLs with wrk, interleaved so machine noise hits both alike. Prints requests/s,
p50/p99 and the ratio scan/constant, for the production HTTP server (gunicorn, WSGI) and for the ASGI server
(uvicorn) that serves WebSockets. Run: `python bench/scan.py` (or `make bench`).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DURATION = int(os.environ.get("BENCH_SECONDS", "8"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
PG = os.environ.get("BENCH_PG", "postgres://{user}@127.0.0.1:5432/{db}")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
GUNICORN_WORKERS = os.environ.get("BENCH_GUNICORN_WORKERS", "4")

SEED = """
from owners.models import Owner
from tags.models import Tag
from twins import services
owner, _ = Owner.objects.get_or_create(username="bench", defaults={"email": "bench@example.org"})
twin = services.twin_create(owner=owner, name="Benchmark grinder", reading_kind="grind", reading_unit="setting")
services.twin_update(twin=twin, use_profile_contact=False, contact_message="Please message me", show_message=True)
print(Tag.objects.create(twin=twin).token)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-d", "postgres", "-qc", sql], check=True, capture_output=True)


def wrk(url: str) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
        timeout=DURATION + 30,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw non-2xx responses from {url}:\n{out}")

    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
    }


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer {url}")


def serve(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def measure(name: str, command: list[str], env: dict[str, str], port: int, token: str) -> dict:
    process = serve(command, env)
    try:
        base = f"http://127.0.0.1:{port}"
        scan_url = f"{base}/t/{token}"
        wait_for(scan_url)
        with urllib.request.urlopen(scan_url) as response:
            size = len(response.read())
        constant_url = f"{base}/bench/constant?size={size}"
        with urllib.request.urlopen(constant_url) as response:
            assert len(response.read()) == size
        wrk(scan_url)  # warm-up round, not counted
        scans, constants = [], []
        for _ in range(ROUNDS):
            constants.append(wrk(constant_url))
            scans.append(wrk(scan_url))
    finally:
        stop(process)

    def mean(rows: list[dict], key: str) -> float:
        return sum(row[key] for row in rows) / len(rows)

    result = {
        "server": name,
        "size": size,
        "scan": {key: mean(scans, key) for key in ("rps", "p50", "p99")},
        "constant": {key: mean(constants, key) for key in ("rps", "p50", "p99")},
    }
    result["ratio"] = result["scan"]["rps"] / result["constant"]["rps"]
    return result


def main() -> int:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    db = f"thingstead_bench_{os.getpid()}"
    user = os.environ.get("PGUSER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": base64.urlsafe_b64encode(os.urandom(40)).decode(),
        "KEY_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
        "SITE_URL": f"http://bench.localhost:{port}",
        "ALLOWED_HOSTS": "127.0.0.1,bench.localhost",
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_MANIFEST": "0",
        "BENCH_ENDPOINTS": "1",
        "RATE_SCAN_PER_CLIENT": "1000000000/60",
        "DATABASE_URL": PG.format(user=user, db=db),
        "REDIS_URL": REDIS,
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    psql(f"CREATE DATABASE {db}")
    try:
        subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        seeded = subprocess.run(
            [PYTHON, "manage.py", "shell", "-v0", "-c", SEED],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        token = seeded.stdout.strip().splitlines()[-1]
        bindir = Path(PYTHON).parent
        servers = [
            (
                f"gunicorn (WSGI, {GUNICORN_WORKERS} sync workers): production HTTP",
                [
                    str(bindir / "gunicorn"),
                    "config.wsgi",
                    "-w",
                    GUNICORN_WORKERS,
                    "-b",
                    f"127.0.0.1:{port}",
                    "--log-level",
                    "warning",
                ],
            ),
            (
                "uvicorn (ASGI, 2 workers): the WebSocket server",
                [
                    str(bindir / "uvicorn"),
                    "config.asgi:application",
                    "--workers",
                    "2",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
            ),
        ]
        results = [measure(name, command, env, port, token) for name, command in servers]
    finally:
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")

    print(f"Scan benchmark: wrk -t2 -c{CONNECTIONS}, {ROUNDS}×{DURATION}s per URL, PostgreSQL + Redis, DEBUG off")
    print(f"{'server':50} {'URL':9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for result in results:
        for label in ("scan", "constant"):
            row = result[label]
            print(f"{result['server']:50} {label:9} {row['rps']:8.0f} {row['p50']:8.2f} {row['p99']:8.2f}")
        print(f"{'':50} {'ratio':9} {result['ratio']:8.2f}   (scan / constant, page {result['size']} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
