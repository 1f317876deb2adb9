"""Worker processes against the test database, a TCP proxy to cut the database off, and waiting."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# The worker processes' database sessions carry this name (tests.faults.worker_settings).
WORKER_APPLICATION_NAME = "thingstead-fault-worker"


def wait_for(condition: Callable[[], object], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Proxy:
    """A TCP relay on loopback to the database server. `stop()` closes the port and cuts every open connection
    (as a server restart or a network failure would); `start()` opens the same port again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            # shutdown() first: on Linux, close() alone leaves a thread blocked in accept() listening.
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def database_url(*, port: int | None = None) -> str:
    """The test database (the one this test process uses), optionally through another port on loopback."""
    params = connection.settings_dict
    host = params["HOST"] or "127.0.0.1"
    if port is not None:
        host = "127.0.0.1"
    user = params["USER"] or ""
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port or params['PORT'] or 5432}/{params['NAME']}"


class Workers:
    """Starts `manage.py <command>` processes with tests.faults.worker_settings; stops all at the end."""

    def __init__(self, mail_dir: Path, log_dir: Path) -> None:
        self.mail_dir = mail_dir
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, command: str, *, db_url: str, lease: float = 300, extra: tuple[str, ...] = ()) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
        env.update(
            DJANGO_SETTINGS_MODULE="tests.faults.worker_settings",
            DATABASE_URL=db_url,
            FAULTS_MAIL_DIR=str(self.mail_dir),
            FAULTS_TASK_LEASE_SECONDS=str(lease),
            PYTHONUNBUFFERED="1",
        )
        log = (self.log_dir / f"worker-{len(self.procs)}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", command, "--interval", "0.2", "--no-startup-delay", "--no-reload", *extra],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def log(self, index: int) -> str:
        return (self.log_dir / f"worker-{index}.log").read_text()

    def stop_all(self) -> None:
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
def workers(tmp_path) -> Iterator[Workers]:
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    pool = Workers(mail_dir, tmp_path)
    yield pool
    pool.stop_all()
    # A server session outlives its client's exit by a moment: wait, or dropping the test database fails.
    wait_for(_alone_in_the_database, timeout=15, what="the workers' database sessions to end")


def _alone_in_the_database() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [WORKER_APPLICATION_NAME],
        )
        return cursor.fetchone()[0] == 0


@pytest.fixture
def db_tasks(settings):
    """This process enqueues into the database, as production does (the suite runs tasks inline)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
