"""The browser tests' live server on in-memory SQLite: Chromium's requests take turns (tests/browser/conftest.py)."""

from __future__ import annotations

import threading
import time

from tests.browser.conftest import BrowserRequestsOneAtATime

CHROMIUM = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0.0.0 Mobile Safari/537.36"


class CountingApp:
    """A WSGI app that notes how many of its calls overlap (the body is produced while the call is counted)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls = 0

    def __call__(self, environ, start_response):
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return self._body()

    def _body(self):
        try:
            time.sleep(0.02)
            yield b"part one, "
            time.sleep(0.02)
            yield b"part two"
        finally:
            with self.lock:
                self.running -= 1


def call_at_once(app, user_agent: str, path: str = "/things/", n: int = 6) -> list[bytes]:
    bodies: list[bytes] = []
    start = threading.Barrier(n)

    def one() -> None:
        start.wait()
        environ = {"PATH_INFO": path, "HTTP_USER_AGENT": user_agent}
        bodies.append(b"".join(app(environ, lambda status, headers: None)))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return bodies


def test_chromium_requests_run_one_at_a_time_with_their_whole_body():
    inner = CountingApp()
    bodies = call_at_once(BrowserRequestsOneAtATime(inner), CHROMIUM)
    assert bodies == [b"part one, part two"] * 6
    assert inner.calls == 6
    assert inner.most == 1


def test_the_apps_own_calls_to_this_server_are_not_held_behind_the_browsers_turn():
    inner = CountingApp()
    bodies = call_at_once(BrowserRequestsOneAtATime(inner), "Thingstead-Moves/1.0")
    assert bodies == [b"part one, part two"] * 6
    assert inner.most > 1


def test_websocket_paths_are_answered_404_without_django():
    inner = CountingApp()
    statuses: list[str] = []
    body = BrowserRequestsOneAtATime(inner)(
        {"PATH_INFO": "/ws/owner/", "HTTP_USER_AGENT": CHROMIUM}, lambda status, headers: statuses.append(status)
    )
    assert statuses == ["404 Not Found"] and list(body) == [b""]
    assert inner.calls == 0
