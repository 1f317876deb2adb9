"""Helpers for HTTP benchmarks: a throwaway PostgreSQL database, production-like settings, servers run in their
own process groups, and wrk on loopback. Not a benchmark itself (run_all.py skips files starting with "_")."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
PG = os.environ.get("BENCH_PG", "postgres://{user}@127.0.0.1:5432/{db}")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_user() -> str:
    return os.environ.get("PGUSER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()


def _run(command: list[str], **kwargs) -> str:
    """Run a setup command; when it fails, stop with its own error output (a bare CalledProcessError says only
    the exit status, which left a failed migrate on a fresh machine unexplained)."""
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()[-3000:]
        raise SystemExit(
            f"{' '.join([Path(command[0]).name, *command[1:]])[:300]} exited with {done.returncode}:\n{output}"
        )
    return done.stdout


def psql(sql: str, db: str = "postgres") -> str:
    return _run(["psql", "-h", "127.0.0.1", "-d", db, "-qAtc", sql]).strip()


def production_env(*, db: str, port: int, **extra: str) -> dict[str, str]:
    """Settings as in production (DEBUG off, PostgreSQL, Redis), on loopback without TLS."""
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
        "DATABASE_URL": PG.format(user=pg_user(), db=db),
        "REDIS_URL": REDIS,
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **extra,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    return _run([PYTHON, "manage.py", *args], cwd=ROOT, env=env)


def serve(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start a process in its own group (so stop() reaches its workers too); its stderr goes to a temporary file
    (a pipe nobody reads would block a chatty process)."""
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
    )
    process.log = log  # type: ignore[attr-defined]
    return process


def log_tail(process: subprocess.Popen, size: int = 3000) -> str:
    log = process.log  # type: ignore[attr-defined]
    log.seek(0)
    return log.read().decode(errors="replace")[-size:]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    process.log.close()  # type: ignore[attr-defined]


# How long a server may take to answer its first request. Each gunicorn worker imports Django and every app on its
# own (~2 CPU-s here): the first answer took 11-14 s at load average 4 and 18-26 s at 8-15, close to the fixed 30 s
# this wait had (session 9's "did not answer within 30 s" itself was uvicorn's workers dying at import, 59e0041).
START_SECONDS = float(os.environ.get("BENCH_START_SECONDS", "180"))
# A server that has not answered this long and has written a traceback is failing, not slow.
CRASH_SECONDS = 30.0


def wait_for(url: str, process: subprocess.Popen, timeout: float | None = None) -> float:
    """Wait until `url` answers 200 and return the seconds it took. Stop the bench with the server's own error
    output, the last answer or error seen, its CPU time and the load average when the server exits, or when it has
    not answered within `timeout` (default BENCH_START_SECONDS, 180). A server still starting on a loaded machine
    only needs time; one that is up but answers 503 (no database) or another status says why in that answer. A
    server whose output shows a traceback and that has not answered for CRASH_SECONDS is taken as failing to
    start: a supervisor that restarts dying workers (uvicorn's) never exits by itself."""
    timeout = START_SECONDS if timeout is None else timeout
    started = time.monotonic()
    last = "no attempt yet"
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode} ({last}); its output:\n{log_tail(process)}")
        if time.monotonic() - started > CRASH_SECONDS and "Traceback (most recent call last)" in log_tail(
            process, 10**6
        ):
            raise SystemExit(
                f"server did not answer {url} in {time.monotonic() - started:.0f} s and its output has a traceback "
                f"(last: {last}); its output:\n{log_tail(process)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - started
                last = f"answered {response.status}"
        except urllib.error.HTTPError as error:
            last = f"answered {error.code}: {error.read(300).decode(errors='replace')}"
        except OSError as error:
            last = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
        time.sleep(0.2)
    raise SystemExit(
        f"server did not answer {url} within {timeout:.0f} s (last: {last}; the server used "
        f"{cpu_seconds(process):.1f} CPU-s, load average {load_average():.1f}; BENCH_START_SECONDS waits longer); "
        f"its output:\n{log_tail(process) or '(nothing)'}"
    )


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        if response.status != 200:
            raise SystemExit(f"{url} answered {response.status}")
        return response.read()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int = 32,
    threads: int = 2,
    script: str | None = None,
    script_args: tuple[str, ...] = (),
) -> dict[str, float]:
    """One wrk run (optionally with a Lua `script` and its arguments); requests/s, p50/p99 in ms, and the number
    of completed requests."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--latency"]
    if script is not None:
        command += ["-s", script]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    out = subprocess.run(
        command,
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw non-2xx responses from {url}:\n{out}")

    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * _UNITS[unit]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "requests": int(re.search(r"^\s+(\d+) requests in", out, re.M).group(1)),
        "errors": sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
    }


def cpu_seconds(process: subprocess.Popen | None) -> float:
    """User + system CPU time of a process started by serve() and everything in its process group (gunicorn's
    and uvicorn's workers), all threads; 0 for None or a group that has gone."""
    if process is None:
        return 0.0
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == process.pid:  # the process group serve() started
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def settle(processes: list[subprocess.Popen | None], *, timeout: float = 30.0, busy: float = 0.05) -> float:
    """Wait until `processes` (and their workers) have finished starting: together under `busy` of one core over
    half a second (every gunicorn worker and the task worker import Django on their own, after the first one
    answers). The seconds it took; gives up after `timeout`."""
    started = time.monotonic()
    previous = sum(cpu_seconds(process) for process in processes)
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        current = sum(cpu_seconds(process) for process in processes)
        if current - previous < busy * 0.5:
            break
        previous = current
    return time.monotonic() - started


def load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return 0.0
