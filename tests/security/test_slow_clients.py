"""Slow clients against the production layout (README "Running in production"): gunicorn's threads each wait for
a whole request, so clients that send their headers a byte at a time, reaching it directly, take every thread and
stall it (here proven with 1 worker of 4 threads and 8 such clients). Behind the proxy the README shows (nginx: it
reads a request's headers and body itself, event-driven, before it opens a connection upstream), 200 of them hold
nothing of gunicorn's and /healthz answers at once.

Both run the real servers: gunicorn with production settings, nginx (installed by `make test`) with the
config below, the one README gives.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.faults.pg_cluster import free_port
from tests.faults.pg_stack import production_env

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# README's proxy, reduced to what matters here: TLS and the /ws/, /didcomm/ws and /hooks/ locations are left out.
NGINX_CONF = """
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    client_header_timeout 10s;   # a client that has not sent its headers by then is dropped
    client_body_timeout 10s;
    client_max_body_size 9m;     # PHOTO_MAX_BYTES and a little
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_request_buffering on;  # the default, named: gunicorn sees a request only once it is all here
            proxy_buffering on;          # and slow readers of an answer hold nginx's memory, not a gunicorn thread
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listened on {port}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """The README's production command, one worker of 4 threads (the stall needs 4 slow clients, not 16)."""
    directory = tmp_path_factory.mktemp("slow")
    port = free_port()
    # /healthz asks the database for SELECT 1: an empty SQLite file will do.
    env = production_env(database_url=f"sqlite:///{directory}/db.sqlite3", mqtt_port=1883, site_port=port)
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:config.gunicorn", "config.wsgi"]
    command += ["-w", "1", "--worker-class", "gthread", "--threads", "4", "-b", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_listening(port, proc)
        assert healthz(port, timeout=30) == 200  # the worker has loaded the app
        yield port
    finally:
        stop(proc)


@pytest.fixture
def nginx(gunicorn):
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: `make test` installs it (Debian's nginx package)")
    directory = Path(tempfile.mkdtemp(prefix="thingstead-nginx-"))
    port = free_port()
    user = "user root root;" if os.geteuid() == 0 else ""
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, dir=directory, port=port, upstream=gunicorn))
    proc = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(directory), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_listening(port, proc)
        yield port
    finally:
        stop(proc)
        shutil.rmtree(directory, ignore_errors=True)


def healthz(port: int, *, timeout: float) -> int | str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        response.read()
        return response.status
    except TimeoutError:
        return "timed out"
    finally:
        conn.close()


def slow_clients(port: int, count: int) -> list[socket.socket]:
    """Clients that have sent the start of a request's headers and then wait (a slowloris)."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        sockets.append(sock)
    return sockets


def test_slow_header_clients_reaching_gunicorn_directly_stall_it(gunicorn):
    """Why gunicorn must never be reachable but through the proxy (it binds to loopback in the README)."""
    held = slow_clients(gunicorn, 8)
    try:
        time.sleep(0.5)  # each has been handed to a thread, which now waits for the rest of the headers
        assert healthz(gunicorn, timeout=3) == "timed out"
    finally:
        for sock in held:
            sock.close()
    assert healthz(gunicorn, timeout=10) == 200  # and once they go, it serves again


def test_behind_the_proxy_slow_header_clients_hold_nothing_of_gunicorns(nginx):
    held = slow_clients(nginx, 200)
    try:
        time.sleep(0.5)
        assert healthz(nginx, timeout=10) == 200
        assert healthz(nginx, timeout=10) == 200
    finally:
        for sock in held:
            sock.close()
