"""core.netguard (SECURITY 40): outgoing connections go only to public addresses, checked after DNS resolution on
the very address the socket then connects to; OUTBOUND_ALLOW_PRIVATE_ADDRESSES lets tests reach loopback."""

from __future__ import annotations

import http.server
import ipaddress
import socket
import threading

import pytest

from core import netguard
from core.netguard import BlockedAddress, check_ip, check_url, create_connection

BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.254",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:10.1.2.3",
    "::ffff:169.254.169.254",
    "::ffff:0.0.0.0",
    "::127.0.0.1",
    "64:ff9b::a00:1",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "2001:db8::1",
    "fc00::1",
    "fd12:3456:789a::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "100::1",
]
PUBLIC = ["1.1.1.1", "8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.fixture
def guarded(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False


@pytest.mark.parametrize("address", BLOCKED)
def test_a_private_loopback_link_local_or_reserved_address_is_blocked(guarded, address):
    with pytest.raises(BlockedAddress):
        check_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_a_public_address_passes(guarded, address):
    check_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", BLOCKED)
def test_a_url_naming_a_blocked_literal_address_is_refused(guarded, address):
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(BlockedAddress):
        check_url(f"https://{host}:8443/didcomm?x=1")


@pytest.mark.parametrize("url", ["http://localhost/", "ws://localhost:8020/", "https://LOCALHOST/x"])
def test_a_name_that_resolves_to_loopback_is_refused(guarded, url):
    with pytest.raises(BlockedAddress):
        check_url(url)


def test_a_name_resolving_to_one_public_and_one_private_address_is_refused(guarded, monkeypatch):
    def resolve(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(BlockedAddress):
        check_url("https://mixed.example/")


@pytest.mark.parametrize("url", ["", "https://", "mailto:a@example.org", "http://[::1/", "http://host:99999/"])
def test_a_url_without_a_usable_host_is_refused(guarded, url):
    with pytest.raises(BlockedAddress):
        check_url(url)


def test_the_refusal_names_nothing_internal(guarded):
    with pytest.raises(BlockedAddress) as refused:
        check_url("http://localhost:6379/")
    assert str(refused.value) == "cannot deliver to this address"


def test_the_connection_goes_to_the_address_that_was_checked_not_a_second_lookup(guarded, monkeypatch):
    """DNS rebinding: the first answer is public, a second lookup would say loopback. There is no second."""
    answers = iter([["8.8.8.8"], ["127.0.0.1"]])
    connected: list[tuple] = []

    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in next(answers)]

    class FakeSocket:
        def __init__(self, family, type_, proto):
            pass

        def settimeout(self, timeout):
            pass

        def connect(self, address):
            connected.append(address)

        def close(self):
            pass

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(netguard.socket, "socket", FakeSocket)
    create_connection(("rebinding.example", 443), timeout=1)
    assert connected == [("8.8.8.8", 443)]


def test_connecting_to_loopback_is_refused_before_any_packet(guarded):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    try:
        with pytest.raises(BlockedAddress):
            create_connection(("localhost", server.getsockname()[1]), timeout=1)
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()


def test_with_private_addresses_allowed_loopback_connects(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    check_url("http://127.0.0.1:1/")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = threading.Event()

    def serve():
        conn, _ = server.accept()
        accepted.set()
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with create_connection(("localhost", server.getsockname()[1]), timeout=2):
            assert accepted.wait(2)
    finally:
        server.close()


def test_the_setting_is_off_unless_set(settings):
    del settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES
    with pytest.raises(BlockedAddress):
        check_url("http://127.0.0.1/")


class _Answer(http.server.BaseHTTPRequestHandler):
    """Answers every GET with `answer` (HTTP/1.0 by default: the server closes the connection after it)."""

    answer = b""
    send_length = True

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.send_length:
            self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize(
    ("protocol", "send_length", "size"),
    [
        ("HTTP/1.0", True, 20),  # the connection closes after the answer
        ("HTTP/1.0", False, 20),  # ... and the answer's end is the connection's
        ("HTTP/1.0", False, 50_000),  # more than one read
        ("HTTP/1.1", True, 50_000),  # kept open: the answer's end is its length
    ],
)
def test_an_answer_is_read_whole_whether_or_not_the_server_closes_the_connection(settings, protocol, send_length, size):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    body = (b'{"ok": "' + b"x" * size + b'"}')[: size + 10]
    handler = type("Handler", (_Answer,), {"answer": body, "send_length": send_length, "protocol_version": protocol})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answer = netguard.exchange(
            "GET",
            f"http://127.0.0.1:{server.server_address[1]}/",
            body=None,
            headers={},
            connect_timeout=2,
            total_timeout=5,
            max_answer_bytes=1_000_000,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (answer.status, answer.body) == (200, body)
