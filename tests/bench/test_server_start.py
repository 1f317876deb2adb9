"""bench/_server.py: a server that does not come up stops the bench with the reason, not only "did not answer".

On a fresh machine bench/scan.py stopped with "server did not answer .../healthz within 30 s" and nothing else: the
server's own output was kept in a file nobody printed, and a failed setup command said only its exit status. These
run real processes (a tiny HTTP server that writes to stderr, a Python that fails) through the same helpers."""

from __future__ import annotations

import sys

import pytest

from bench import _server as srv

# Answers every GET with 503 and a body naming the cause, after writing a line to stderr, as a server whose
# database is missing does (core.views.healthz).
UNHEALTHY = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"status": "database unavailable"}'
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

print("warning: the database refused the connection", file=sys.stderr, flush=True)
HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_a_server_that_answers_503_is_reported_with_its_answer_and_its_own_output():
    port = srv.free_port()
    process = srv.serve([sys.executable, "-c", UNHEALTHY, str(port)], {})
    try:
        with pytest.raises(SystemExit) as stopped:
            srv.wait_for(f"http://127.0.0.1:{port}/healthz", process, timeout=3)
    finally:
        srv.stop(process)
    message = str(stopped.value)
    assert "did not answer" in message
    assert 'answered 503: {"status": "database unavailable"}' in message
    assert "the database refused the connection" in message
    assert "BENCH_START_SECONDS" in message


def test_a_failing_manage_command_stops_with_its_error_output():
    env = {"DJANGO_SETTINGS_MODULE": "config.settings_test", "PATH": "/usr/bin:/bin"}
    with pytest.raises(SystemExit) as stopped:
        srv.manage(env, "no_such_command_here")
    assert "exited with 1" in str(stopped.value)
    assert "Unknown command: 'no_such_command_here'" in str(stopped.value)


# Writes a worker's traceback and never answers nor exits, as uvicorn's supervisor does while it restarts workers
# that die importing the application.
CRASH_LOOP = """
import sys, time, traceback
try:
    raise RuntimeError("SynchronousOnlyOperation: You cannot call this from an async context")
except RuntimeError:
    traceback.print_exc()
sys.stderr.flush()
time.sleep(600)
"""


def test_a_server_that_crash_loops_is_reported_with_its_traceback_before_the_start_timeout(monkeypatch):
    monkeypatch.setattr(srv, "CRASH_SECONDS", 1.0)
    port = srv.free_port()
    process = srv.serve([sys.executable, "-c", CRASH_LOOP], {})
    try:
        with pytest.raises(SystemExit) as stopped:
            srv.wait_for(f"http://127.0.0.1:{port}/healthz", process, timeout=120)
    finally:
        srv.stop(process)
    message = str(stopped.value)
    assert "its output has a traceback" in message
    assert "SynchronousOnlyOperation: You cannot call this from an async context" in message
