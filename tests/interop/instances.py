"""Thingstead instances on loopback, each its own processes and database, for tests between instances.

Each instance is what production runs, minus the proxy: an ASGI server (uvicorn, ``config.asgi``) and the task
worker (``manage.py worker``: db_worker's loop, the periodic jobs, lost tasks requeued), with a SQLite file
database of its own (WAL, as DATABASE_URL=sqlite:/// sets it up) and its own SITE_URL and DID_DOMAIN. A test
drives each through ``manage.py shell`` (:meth:`Instance.run`: what an operator or the pages would call) and sees
the others only over the network. Nothing is shared but the key-encryption key file of the development checkout
(each database holds its own sealed keys).

Kept fast for a 2-core machine: the schema is migrated once (:func:`migrated_database`) and each instance starts
from a copy of that empty file; :func:`start_all` spawns every instance's processes before waiting for any; one
shell per instance stays open (:class:`Shell`). :meth:`Instance.kill` is a SIGKILL (a crash) of the server, the
worker or both, :meth:`Instance.freeze` a SIGSTOP of the server; :meth:`Instance.start` restarts them on the same
port and database.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import queue
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
        # did:webvh wants a DNS name of labels of two characters or more, each starting with a letter (FACTS.md;
        # did-webvh refuses "a.thingstead.localhost"): the DIDs name one, the endpoints the loopback address.
        self.did_domain = f"instance-{name}.thingstead.localhost:{self.port}"
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
        self._shell: Shell | None = None
        self._shell_lock = threading.Lock()
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
        with self._shell_lock:  # the shell's Django starts while the server's does
            if self._shell is None or not self._shell.alive:
                self._shell = Shell(self)

    def spawn_worker(self) -> None:
        self._spawn(
            "worker",
            [sys.executable, "manage.py", "worker", "--interval", "0.2", "--no-startup-delay", "--no-reload"],
        )

    def listening(self, timeout: float = 120) -> None:
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

    def run(self, script: str, *, timeout: float = 300, **values: object) -> dict:
        """Run ``script`` in this instance's ``manage.py shell`` (:class:`Shell`) with ``values`` as its variables;
        it prints one JSON object last, which is returned."""
        started = time.monotonic()
        with self._shell_lock:
            if self._shell is None or not self._shell.alive:
                self._shell = Shell(self)
            answer = self._shell.run(textwrap.dedent(script), values, timeout=timeout)
        with (self.dir / "timings.txt").open("a") as timings:  # where a slow test spends its time
            first = next((line for line in textwrap.dedent(script).splitlines() if line.strip()), "")
            timings.write(f"{time.strftime('%H:%M:%S')} {time.monotonic() - started:6.1f}s {first[:80]}\n")
        if answer is None:
            pytest.fail(f"{self.name}: script did not finish in {timeout:.0f}s:\n{script}\n{self.logs()}")
        if not answer["ok"]:
            pytest.fail(f"{self.name}: script failed:\n{answer['error'][-4000:]}\n{self.logs()}")
        lines = answer["stdout"].strip().splitlines()
        if not lines:
            pytest.fail(f"{self.name}: script printed nothing:\n{script}")
        return json.loads(lines[-1])

    def wait(self, condition: str, *, setup: str = "", timeout: float = 60, what: str) -> None:
        result = self.run(textwrap.dedent(setup) + WAIT.format(condition=condition, timeout=timeout))
        if not result["ok"]:
            pytest.fail(f"{self.name}: timed out waiting for {what}\n{self.logs()}")

    def get(self, path_or_url: str, *, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        """(status, headers, body) of a GET to this instance, redirects not followed."""
        parts = urlsplit(path_or_url)
        if parts.netloc and parts.netloc != f"127.0.0.1:{self.port}":
            raise AssertionError(f"{path_or_url} is not on instance {self.name} ({self.url})")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", path or "/", headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
        finally:
            connection.close()

    def session_cookie(self, username: str) -> str:
        """A ``Cookie`` header signing ``username`` in on this instance (a session made as a login makes one)."""
        made = self.run(
            """
            from django.conf import settings
            from django.test import Client
            from owners.models import Owner
            client = Client()
            client.force_login(Owner.objects.get(username=username))
            name = settings.SESSION_COOKIE_NAME
            print(json.dumps({"cookie": f"{name}={client.cookies[name].value}"}))
            """,
            username=username,
        )
        return made["cookie"]

    def logs(self) -> str:
        parts = []
        for log in sorted(self.dir.glob("*.log")):
            parts.append(f"--- {self.name} {log.name} ---\n{log.read_text()[-3000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """SIGTERM (the worker finishes its task), SIGKILL if a process lingers; the shell ends too."""
        self.thaw()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        if self._shell is not None:
            self._shell.close()
            self._shell = None
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


# The shell's loop: one request per stdin line ({"script", "values"}), one answer per MARK-prefixed stdout line.
SHELL_MARK = "@@instance-shell@@ "
SHELL_LOOP = """
import contextlib, io, json, sys, traceback
from django.db import connections

answers = sys.stdout
for line in sys.stdin:
    request = json.loads(line)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exec(request["script"], {"json": json, **request["values"]})
        answer = {"ok": True, "stdout": printed.getvalue()}
    except BaseException:
        answer = {"ok": False, "stdout": printed.getvalue(), "error": traceback.format_exc()}
    finally:
        connections.close_all()
    answers.write(MARK + json.dumps(answer) + "\\n")
    answers.flush()
"""


class Shell:
    """One ``manage.py shell`` kept open on an instance, running script after script (an operator's open shell).

    Starting Django costs seconds per interpreter on this machine, many times per test; a shell that stays open
    pays it once. Each script runs in a fresh namespace, in autocommit, and its database connections are closed
    after it, as a new process's would be. It is a process of its own: killing the instance's server or worker
    leaves it running, as a crash of those would leave an operator's shell.
    """

    def __init__(self, instance: Instance) -> None:
        self.log = (instance.dir / "shell.log").open("a")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", f"MARK = {SHELL_MARK!r}\n" + SHELL_LOOP],
            cwd=ROOT,
            env=instance.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.answers: queue.Queue[dict] = queue.Queue()
        self.reader = threading.Thread(target=self._read, name=f"shell-{instance.name}", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.startswith(SHELL_MARK):
                self.answers.put(json.loads(line[len(SHELL_MARK) :]))
            else:
                self.log.write(line)  # printed outside any script (Django's own start-up output)
                self.log.flush()
        self.answers.put({"ok": False, "stdout": "", "error": f"the shell exited ({self.process.wait()})"})

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, script: str, values: dict, *, timeout: float) -> dict | None:
        self.process.stdin.write(json.dumps({"script": script, "values": values}) + "\n")
        self.process.stdin.flush()
        try:
            return self.answers.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()  # its answer would come to the next script
            return None

    def close(self) -> None:
        """End it between scripts: it holds no transaction, so nothing is lost (a clean exit takes seconds)."""
        self.process.kill()
        self.process.wait()
        self.reader.join(timeout=5)
        self.log.close()


_template_lock = threading.Lock()
_template: list[Path] = []
SCHEMA_CACHE = ROOT / ".cache" / "instances"  # git-ignored


def schema_key() -> str:
    """What the migrated schema depends on: every app's migrations, the pinned requirements (third-party apps'
    migrations) and which apps are installed (the test settings install what config.settings does)."""
    from django.conf import settings

    digest = hashlib.sha256("\n".join(settings.INSTALLED_APPS).encode())
    for path in [*sorted(ROOT.glob("*/migrations/*.py")), ROOT / "requirements.txt"]:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def migrated_database(workdir: Path) -> Path:
    """An empty, freshly migrated SQLite database file; every instance starts from a copy of it.

    Migrating takes 20 s on a quiet machine and a minute on a busy one, so the result is kept in .cache/instances
    under :func:`schema_key`: a session migrates only when a migration, a requirement or the installed apps changed
    since the last one did (else once, under the first caller's ``workdir``)."""
    with _template_lock:
        if not _template:
            cached = SCHEMA_CACHE / f"schema-{schema_key()}.sqlite3"
            if not cached.exists():
                instance = Instance("template", workdir)
                instance.migrate()
                SCHEMA_CACHE.mkdir(parents=True, exist_ok=True)
                for old in SCHEMA_CACHE.glob("schema-*.sqlite3"):
                    old.unlink(missing_ok=True)
                partial = cached.with_suffix(f".{os.getpid()}.partial")
                shutil.copyfile(instance.database, partial)
                os.replace(partial, cached)  # whole or absent, for a session starting meanwhile
            # This session's own copy: another session with other migrations may replace the cached file.
            local = workdir / "schema.sqlite3"
            shutil.copyfile(cached, local)
            _template.append(local)
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
    """Stop them side by side (each worker may take seconds to finish its task)."""
    threads = [threading.Thread(target=instance.stop) for instance in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


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
