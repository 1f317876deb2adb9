"""Thingstead instances on loopback, each its own processes and database, for tests between instances.

Each instance is what production runs, minus the proxy: an ASGI server (uvicorn, ``config.asgi``) and the task
worker (``db_worker``), with a SQLite file database of its own (WAL, as DATABASE_URL=sqlite:/// sets it up) and its
own SITE_URL and DID_DOMAIN. A test drives each through ``manage.py shell`` (:meth:`Instance.run`: what an operator
or the pages would call) and sees the others only over the network. Nothing is shared but the key-encryption key
file of the development checkout (each database holds its own sealed keys).

Kept fast for a 2-core machine: the schema is migrated once per test session (:func:`migrated_database`) and each
instance starts from a copy of that empty file; :func:`start_all` spawns every instance's processes before waiting
for any. :meth:`Instance.kill` is a SIGKILL of both processes (a crash), :meth:`Instance.start` again restarts them
on the same port and database.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]

SETTINGS = """
import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("STATIC_MANIFEST", "0")

from config.settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True  # the other instances listen on loopback
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
    """One Thingstead: its database file, its server and worker processes, and ``manage.py shell`` against it.

    ``settings``: lines added to its settings module (written when it starts, so they may name other instances'
    URLs, known once every instance has its port).
    """

    def __init__(self, name: str, workdir: Path, *, settings: str = "") -> None:
        self.name = name
        self.dir = workdir / name
        self.dir.mkdir()
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # did:webvh wants a DNS name (FACTS.md): the DIDs name one, the endpoints the loopback address.
        self.did_domain = f"{name}.thingstead.localhost:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
        env.update(
            DJANGO_SETTINGS_MODULE="instance_settings",
            PYTHONPATH=os.pathsep.join([str(self.dir), str(ROOT)]),
            DATABASE_URL=f"sqlite:///{self.database}",
            SITE_URL=self.url,
            DID_DOMAIN=self.did_domain,
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self._frozen = False
        self.procs: dict[str, subprocess.Popen] = {}  # "server", "worker"
        self._write_settings()

    @property
    def database(self) -> Path:
        return self.dir / "db.sqlite3"

    def _write_settings(self) -> None:
        (self.dir / "instance_settings.py").write_text(SETTINGS + textwrap.dedent(self.settings))

    def migrate(self) -> None:
        with (self.dir / "migrate.log").open("w") as log:
            done = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        if done.returncode != 0:
            pytest.fail(f"migrate failed on {self.name}:\n{self.logs()}")

    def _spawn(self, role: str, args: list[str]) -> None:
        with (self.dir / f"{role}.log").open("a") as log:  # appended: a restart keeps the log of the run before
            self.procs[role] = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def spawn(self, *, worker: bool = True) -> None:
        """Start the server and (unless ``worker=False``) the worker, not waiting for them; see :meth:`listening`."""
        self._write_settings()
        self.procs = {}
        self._spawn(
            "server",
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port",
             str(self.port), "--lifespan", "off", "--log-level", "warning"],
        )  # fmt: skip
        if worker:
            self.spawn_worker()

    def spawn_worker(self) -> None:
        self._spawn(
            "worker",
            [sys.executable, "manage.py", "db_worker", "--interval", "0.2", "--no-startup-delay", "--no-reload"],
        )

    def listening(self, timeout: float = 60) -> None:
        """Return once the server accepts connections; fail with the logs if it does not, or a process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [role for role, proc in self.procs.items() if proc.poll() is not None]
            if dead:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"instance {self.name} did not start:\n{self.logs()}")

    def start(self, *, worker: bool = True) -> None:
        self.spawn(worker=worker)
        self.listening()

    @property
    def serving(self) -> bool:
        """Whether the server process is running (and not frozen by :meth:`freeze`)."""
        server = self.procs.get("server")
        return server is not None and server.poll() is None and not self._frozen

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

    def get(self, path_or_url: str) -> tuple[int, dict[str, str], str]:
        """(status, headers, body) of a GET to this instance, redirects not followed."""
        parts = urlsplit(path_or_url)
        if parts.netloc and parts.netloc != f"127.0.0.1:{self.port}":
            raise AssertionError(f"{path_or_url} is not on instance {self.name} ({self.url})")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", path or "/")
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
        finally:
            connection.close()

    def logs(self) -> str:
        parts = []
        for log in sorted(self.dir.glob("*.log")):
            parts.append(f"--- {self.name} {log.name} ---\n{log.read_text()[-3000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """SIGTERM (the worker finishes its task), SIGKILL if a process lingers."""
        self.thaw()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def kill(self, *roles: str) -> None:
        """SIGKILL the named processes ("server", "worker"; both if none named) at once: a crash, nothing
        finishes."""
        chosen = [self.procs[role] for role in roles or tuple(self.procs) if role in self.procs]
        for proc in chosen:
            if proc.poll() is None:
                proc.kill()
        for proc in chosen:
            proc.wait()
        if not roles or "server" in roles:
            self._frozen = False

    def freeze(self) -> None:
        """SIGSTOP the server: it still accepts connections (the kernel queues them) but answers nothing."""
        self.procs["server"].send_signal(signal.SIGSTOP)
        self._frozen = True

    def thaw(self) -> None:
        server = self.procs.get("server")
        if self._frozen and server is not None and server.poll() is None:
            server.send_signal(signal.SIGCONT)
        self._frozen = False


_template_lock = threading.Lock()
_template: list[Path] = []


def migrated_database(workdir: Path) -> Path:
    """An empty, freshly migrated SQLite database file, migrated once per test session (under the first caller's
    ``workdir``); every instance starts from a copy of it."""
    with _template_lock:
        if not _template:
            instance = Instance("template", workdir)
            instance.migrate()
            _template.append(instance.database)
        return _template[0]


def start_all(instances: Iterable[Instance], template: Path) -> None:
    """Copy the migrated template into each instance, spawn all of them, then wait until each listens (they boot
    side by side)."""
    instances = list(instances)
    for instance in instances:
        shutil.copyfile(template, instance.database)
    for instance in instances:
        instance.spawn()
    for instance in instances:
        instance.listening()


def stop_all(instances: Iterable[Instance]) -> None:
    for instance in instances:
        instance.stop()


class Booting:
    """:func:`start_all` (the session's migration included, the first time) in a background thread, so that
    something else (ACA-Py) starts meanwhile; :meth:`ready` waits for it and re-raises its failure."""

    def __init__(self, instances: Iterable[Instance], workdir: Path) -> None:
        self.instances = list(instances)
        self._failure: BaseException | None = None

        def boot() -> None:
            try:
                start_all(self.instances, migrated_database(workdir))
            except BaseException as exc:  # pytest.fail raises a BaseException: carry it to the test's thread
                self._failure = exc

        self._thread = threading.Thread(target=boot, name="instances-boot", daemon=True)
        self._thread.start()

    def ready(self) -> list[Instance]:
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        return self.instances

    def stop(self) -> None:
        self._thread.join()
        stop_all(self.instances)
