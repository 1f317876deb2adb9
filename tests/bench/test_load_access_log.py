"""bench/load.py reads the ``/didcomm/`` route as the twins' server saw it from gunicorn's access log
(bench/_load_acapy.py: AccessLog, access_requests). Against a real gunicorn with production's logging config
(config/gunicorn.py): every POST to /didcomm/ is found with the status the client got, no other request is, and
gunicorn's own request time is never longer than the client's round trip. Fails if config/gunicorn.py's access
format changes under the parser."""

from __future__ import annotations

import http.client
import os
import time
import urllib.request

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
        # gunicorn writes a request's access line after the answer has gone, and the wait may have left requests
        # it gave up on (a slow first start) that the worker answers later: one more request with a query of its
        # own, then wait for its line. The one sync worker answers in order, so every earlier line is written by
        # then and none is read as the test's (a late /healthz line failed the PostgreSQL pass twice, CI and here).
        ready = f"/healthz?ready={os.getpid()}"
        urllib.request.urlopen(f"http://127.0.0.1:{port}{ready}", timeout=30).read()
        deadline = time.monotonic() + 10
        while f"GET {ready} " not in access.read(0) and time.monotonic() < deadline:
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
