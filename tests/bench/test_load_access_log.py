"""bench/load.py reads the ``/didcomm/`` route as the twins' server saw it from gunicorn's access log
(bench/_load_acapy.py: AccessLog, access_requests). Against a real gunicorn with production's logging config
(config/gunicorn.py): every POST to /didcomm/ is found with the status the client got, no other request is, and
gunicorn's own request time is never longer than the client's round trip. Fails if config/gunicorn.py's access
format changes under the parser."""

from __future__ import annotations

import http.client
import os
import time

import pytest

from bench import _server as srv
from bench._load_acapy import AccessLog, access_requests


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    access = AccessLog(tmp_path_factory.mktemp("gunicorn"))
    port = srv.free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "PYTHONPATH": str(srv.ROOT)}
    command = [str(srv.BIN / "gunicorn"), "-c", "python:config.gunicorn", "config.wsgi", "-w", "1"]
    process = access.serve([*command, "-b", f"127.0.0.1:{port}"], env)
    try:
        srv.wait_for(f"http://127.0.0.1:{port}/healthz", process, timeout=60)
        # gunicorn writes a request's access line after the answer has gone: wait for the line of the wait's own
        # /healthz, so that a late one is not read as the test's (the PostgreSQL pass of CI failed on it once).
        deadline = time.monotonic() + 10
        while not access_requests(access.read(0), method="GET", path="/healthz") and time.monotonic() < deadline:
            time.sleep(0.05)
        yield access, port
    finally:
        srv.stop(process)


def _request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    began = time.perf_counter()
    headers = {"Host": "127.0.0.1", "Content-Type": "application/didcomm-envelope-enc"}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - began) * 1000
    conn.close()
    return response.status, elapsed


def test_every_didcomm_post_is_read_with_its_status_and_no_more_than_the_clients_time(gunicorn):
    access, port = gunicorn
    mark = access.mark()
    seen = []
    for method, path, body in [
        ("POST", "/didcomm/", b"not an envelope"),
        ("GET", "/didcomm/", None),
        ("POST", "/didcomm/", b'{"protected": "e30", "iv": "", "ciphertext": "", "tag": ""}'),
        ("GET", "/healthz", None),
        ("POST", "/didcomm/x", b"{}"),
        ("POST", "/didcomm/", b"{}"),
    ]:
        status, ms = _request(port, method, path, body)
        if method == "POST" and path == "/didcomm/":
            seen.append((status, ms))
    deadline = time.monotonic() + 10
    while len(access_requests(access.read(mark), method="POST", path="/didcomm/")) < len(seen):
        assert time.monotonic() < deadline, access.read(mark)
        time.sleep(0.1)

    found = access_requests(access.read(mark), method="POST", path="/didcomm/")

    assert [status for status, _ in found] == [status for status, _ in seen]
    assert all(400 <= status < 500 for status, _ in found)  # bad envelopes: refused in words, never a 5xx
    for (_, server_ms), (_, client_ms) in zip(found, seen, strict=True):
        assert 0 <= server_ms <= client_ms
    assert len(access_requests(access.read(mark), method="GET", path="/healthz")) == 1
    assert access_requests(access.read(mark, access.mark()), method="POST", path="/didcomm/") == found
    assert access_requests(access.read(access.mark()), method="POST", path="/didcomm/") == []
