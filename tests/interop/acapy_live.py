"""A real ACA-Py agent on loopback, for live interop tests; and a listener for its webhooks.

(Not named acapy_agent.py: a module of that name beside acapy_envelope.py would shadow ACA-Py's own package.)

The agent runs from ACA-Py's own virtualenv (``scripts/acapy-env``) with ``--no-ledger`` and a throwaway askar
sqlite wallet (random name and key) under its own ``HOME`` in the test's tmp folder, so nothing outside that
folder is written. Its log goes to a file there; :meth:`AcaPyAgent.log_tail` is what a failure shows.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AcaPyError(RuntimeError):
    """ACA-Py did not start, or its admin API refused a call; the message carries its log's tail."""


# -- webhooks ---------------------------------------------------------------


@dataclass
class Webhooks:
    """Every webhook ACA-Py posts (``POST <url>/topic/<topic>/``), in arrival order."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def add(self, topic: str, payload: dict[str, Any]) -> None:
        with self._cond:
            self.events.append((topic, payload))
            self._cond.notify_all()

    def wait_for(self, topic: str, timeout: float = 20.0, **match: Any) -> dict[str, Any]:
        """The first event on ``topic`` whose payload has all of ``match``; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for got_topic, payload in self.events:
                    if got_topic == topic and all(payload.get(k) == v for k, v in match.items()):
                        return payload
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(t, p.get("state")) for t, p in self.events]
                    raise AssertionError(f"no {topic} webhook matching {match} in {timeout}s; seen {seen}")
                self._cond.wait(remaining)


class WebhookListener:
    """A tiny threaded HTTP server on loopback collecting ACA-Py's webhooks."""

    def __init__(self) -> None:
        self.webhooks = Webhooks()
        webhooks = self.webhooks

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                parts = [part for part in self.path.split("/") if part]
                topic = parts[1] if len(parts) >= 2 and parts[0] == "topic" else self.path
                try:
                    payload = json.loads(raw) if raw else {}
                except ValueError:
                    payload = {"_raw": raw.decode("utf-8", "replace")}
                webhooks.add(topic, payload if isinstance(payload, dict) else {"_value": payload})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, name="acapy-webhooks", daemon=True)

    def start(self) -> WebhookListener:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# -- the agent --------------------------------------------------------------


class AcaPyAgent:
    """``aca-py start`` as a child process; :meth:`start` returns once ``GET /status/ready`` says ready.

    ``inbound="ws"``: the agent listens for DIDComm on a WebSocket (``ws://127.0.0.1:PORT``, the endpoint its
    invitations and DIDs advertise) instead of HTTP, and can send over both WebSocket and HTTP. ``extra_args`` are
    added to ``aca-py start``.
    """

    def __init__(
        self,
        *,
        python: str,
        workdir: Path,
        webhook_url: str,
        label: str = "acapy-test",
        inbound: str = "http",
        extra_args: tuple[str, ...] = (),
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        if inbound not in ("http", "ws"):
            raise ValueError(f"inbound transport must be http or ws, not {inbound!r}")
        self.python = python
        self.workdir = workdir
        self.label = label
        self.webhook_url = webhook_url
        self.inbound = inbound
        self.extra_args = extra_args
        self.start_timeout = start_timeout
        self.inbound_port = free_port()
        self.admin_port = free_port()
        self.endpoint = f"{inbound}://127.0.0.1:{self.inbound_port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.log_path = workdir / "acapy.log"
        self.process: subprocess.Popen[bytes] | None = None

    def transport_args(self) -> list[str]:
        args = [
            "--inbound-transport",
            self.inbound,
            "127.0.0.1",
            str(self.inbound_port),
            "--outbound-transport",
            "http",
        ]
        if self.inbound == "ws":
            args += ["--outbound-transport", "ws"]
        return args

    def command(self) -> list[str]:
        return [
            self.python,
            "-m",
            "acapy_agent",
            "start",
            *self.transport_args(),
            "--admin",
            "127.0.0.1",
            str(self.admin_port),
            "--admin-insecure-mode",
            "--no-ledger",
            "--wallet-type",
            "askar",
            "--wallet-name",
            f"thingstead-{secrets.token_hex(8)}",
            "--wallet-key",
            secrets.token_hex(32),
            "--auto-provision",
            "--endpoint",
            self.endpoint,
            "--label",
            self.label,
            "--webhook-url",
            self.webhook_url,
            "--auto-accept-invites",
            "--auto-accept-requests",
            "--auto-ping-connection",
            "--emit-new-didcomm-prefix",
            "--log-level",
            "info",
            *self.extra_args,
        ]

    def start(self) -> AcaPyAgent:
        home = self.workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),  # askar's sqlite wallet goes under $HOME/.acapy
            "PYTHONUNBUFFERED": "1",
            "LANG": "C.UTF-8",
        }
        log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=env,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AcaPyError(f"ACA-Py exited with {self.process.returncode} while starting:\n{self.log_tail()}")
            try:
                if self.admin("GET", "/status/ready", timeout=2).get("ready"):
                    return self
            except (OSError, AcaPyError):
                pass
            time.sleep(0.2)
        self.stop()
        raise AcaPyError(f"ACA-Py not ready within {self.start_timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (ACA-Py shuts down its transports and wallet), SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def admin(self, method: str, path: str, body: Any = None, *, timeout: float = HTTP_TIMEOUT) -> Any:
        """Call the admin API; a non-2xx answer raises :class:`AcaPyError` with the body and the log's tail."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.admin_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:2000]
            raise AcaPyError(f"{method} {path}: {exc.code} {detail}\n{self.log_tail()}") from None
        return json.loads(raw) if raw else None
