"""Load benchmark: README's production layout under a mixed workload on loopback, first its maximum rate, then a
steady run at 70 % of it.

Starts, on PostgreSQL (a throwaway database) and Redis, with production settings (DEBUG off): gunicorn as README's
command (4 gthread workers x 4 threads), Daphne for WebSockets, the ingest gateway (2 workers), the MQTT bridge next
to its own Mosquitto, and WORKERS task workers (`manage.py worker`). Seeds OWNERS owners, each with a thing, its tag,
a webhook source feeding it and a session. Then starts a real ACA-Py agent (tests/interop's, in its own virtualenv;
bench/_load_acapy.py) and connects it to ACAPY_TWINS of the twins: each twin's agent makes an out-of-band
invitation, ACA-Py accepts it, DID Exchange completes on both sides. The settings are production's with one change
(bench/_load_settings.py): outgoing DIDComm may go to loopback, where ACA-Py listens.

The workload, by share of requests:

- strangers scanning tags, ``GET /t/<token>`` (40 %);
- owners on their thing's private page, ``GET /things/<slug>/`` with their session (20 %);
- webhook ingestion, one signed reading per ``POST /hooks/<source>`` to the gateway (20 %);
- DIDComm messages from the ACA-Py peer (10 %): each slot asks ACA-Py's admin API to send one basic message
  (``POST /connections/{id}/send-message``) to one of its twins; ACA-Py packs and delivers it to ``POST /didcomm/``
  from its own queue. The client's row is the admin call; the ``/didcomm/`` row is what gunicorn saw (its access
  log's request time). At the end, every message ACA-Py took must be stored once on its connection, with its
  signed history entry;
- MQTT readings published with QoS 1 to ``thingstead/<source>/readings`` (10 %: latency to the broker's PUBACK;
  every published reading must be stored by the end);
- and all the while SOCKETS owners' private-page WebSockets (``/ws/twins/<slug>/``) open on Daphne, receiving the
  readings' pushes.

1. Maximum: CLIENTS closed-loop client threads for ``--probe`` seconds; completed requests per second.
2. Steady: the same mix paced at 70 % of that (open loop: each request has its slot; a late one still goes), for
   ``--minutes`` (default 5). Prints per route: requests, p50 and p99 (ms), 5xx and other non-2xx; the pushes the
   sockets received; the RSS of every process (ACA-Py's too) at the start and end of the steady run. Exits 1 on any
   5xx, or on a message ACA-Py took that was not stored.

The load generator is Python on the same 2 cores as the servers, so the maximum is the machine's, not the servers'
alone. Run: ``python bench/load.py [--minutes 5] [--probe 30] [--owners 20] [--sockets 50] [--acapy-twins 4]`` (needs
PostgreSQL on 5432, Redis, Mosquitto, `websockets` and `paho-mqtt`, and ACA-Py's virtualenv, which
``scripts/acapy-env`` makes the first time).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _server as srv
from bench._load_acapy import AcaPyPeer, AccessLog, access_requests
from ssi import webhooks

MIX = {"scan": 0.4, "private": 0.2, "webhook": 0.2, "acapy": 0.1, "mqtt": 0.1}
ROUTE_NAMES = {"acapy": "acapy (admin send-message)", "didcomm": "/didcomm/ (gunicorn's time)"}
SETTINGS = "bench._load_settings"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

SEED = """
import json
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from ingest import services as ingest
from owners.models import Owner
from tags.models import Tag
from twins import services

owners = []
for i in range({owners}):
    owner = Owner(username=f"load{{i}}", email=f"load{{i}}@example.org")
    owner.set_unusable_password()
    owner.save()
    twin = services.twin_create(owner=owner, name=f"Boiler {{i}}", reading_kind="temp", reading_unit="°C")
    tag = Tag.objects.create(twin=twin)
    source, secret = ingest.source_create(owner=owner, name="Feed", rate_limit="1000000000/60")
    ingest.source_link_thing(source=source, twin=twin, external_id="b")
    session = SessionStore()
    session[SESSION_KEY] = str(owner.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = owner.get_session_auth_hash()
    session.create()
    owners.append({{
        "slug": twin.slug, "twin": twin.pk, "token": tag.token, "source": source.public_id, "secret": secret,
        "session": session.session_key,
    }})
print("SEED " + json.dumps({{"cookie": settings.SESSION_COOKIE_NAME, "owners": owners}}))
"""


# -- the servers --------------------------------------------------------------------------------------------------


class Mosquitto:
    def __init__(self, directory: Path) -> None:
        self.port = srv.free_port()
        conf = directory / "mosquitto.conf"
        user = f"user {getpass.getuser()}\n" if os.geteuid() == 0 else ""
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n{user}"
        )
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("mosquitto did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_servers(
    env: dict[str, str], workers: int, ports: dict[str, int], access: AccessLog
) -> dict[str, subprocess.Popen]:
    """The servers on `ports`; gunicorn's access log (its stdout) into `access`."""
    bindir = str(srv.BIN)
    commands = {
        "gunicorn": [
            f"{bindir}/gunicorn", "-c", "python:config.gunicorn", "config.wsgi", "-w", "4", "--worker-class", "gthread",
            "--threads", "4", "-b", f"127.0.0.1:{ports['web']}",
        ],
        "daphne": [f"{bindir}/daphne", "-b", "127.0.0.1", "-p", str(ports["ws"]), "config.asgi:application"],
        "gateway": [srv.PYTHON, "manage.py", "ingest_gateway", "--port", str(ports["gateway"]), "--workers", "2"],
        "bridge": [srv.PYTHON, "manage.py", "mqtt_bridge", "--client-id", f"load-bridge-{os.getpid()}"],
        **{f"worker-{n}": [srv.PYTHON, "manage.py", "worker"] for n in range(1, workers + 1)},
    }  # fmt: skip
    processes = {
        name: (access.serve if name == "gunicorn" else srv.serve)(command, env) for name, command in commands.items()
    }
    srv.wait_for(f"http://127.0.0.1:{ports['web']}/healthz", processes["gunicorn"])
    srv.wait_for(f"http://127.0.0.1:{ports['ws']}/healthz", processes["daphne"])
    srv.wait_for(f"http://127.0.0.1:{ports['gateway']}/healthz", processes["gateway"])
    return processes


def rss_table(processes: dict[str, subprocess.Popen]) -> dict[str, float]:
    """RSS (MB) of every process of every server's group (gunicorn's and the gateway's workers one by one)."""
    groups = {proc.pid: name for name, proc in processes.items()}
    found: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        group = int(fields[2])
        if group not in groups:
            continue
        rss = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)
        role = "main" if int(entry.name) == group else f"child {entry.name}"
        found[f"{groups[group]} ({role})"] = rss
    return dict(sorted(found.items()))


# -- the clients ----------------------------------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int | str, int]] = defaultdict(lambda: defaultdict(int))
        self.webhooks_ok = 0
        self.mqtt_published: list[float] = []

    def record(self, route: str, status: int | str, seconds: float) -> None:
        with self.lock:
            self.latency[route].append(seconds * 1000)
            self.statuses[route][status] += 1


class Client:
    """One client thread's keep-alive connections and the requests of each route."""

    def __init__(self, seed: dict, ports: dict[str, int], peer: AcaPyPeer) -> None:
        self.seed = seed
        self.ports = ports
        self.peer = peer
        self.conns: dict[str, http.client.HTTPConnection] = {}

    def _request(self, server: str, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> int | str:
        # A kept-alive connection the server closed while idle (gunicorn after 2 s, uvicorn after 5) fails before
        # any answer: sent again on a fresh one, as HTTP clients do. Any other failure is counted.
        for attempt in (1, 2):
            conn = self.conns.get(server)
            reused = conn is not None
            if conn is None:
                conn = self.conns[server] = http.client.HTTPConnection("127.0.0.1", self.ports[server], timeout=60)
            try:
                conn.request(method, path, body=body, headers={"Host": "127.0.0.1", **headers})
                response = conn.getresponse()
                response.read()
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
                    del self.conns[server]
                return response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self.conns.pop(server, None)
                idle_close = isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError))
                if not (reused and idle_close and attempt == 1):
                    return type(exc).__name__
        raise AssertionError("unreachable")

    def run(self, route: str) -> int | str:
        owner = random.choice(self.seed["owners"])
        if route == "scan":
            return self._request("web", "GET", f"/t/{owner['token']}", None, {})
        if route == "private":
            cookie = f"{self.seed['cookie']}={owner['session']}"
            return self._request("web", "GET", f"/things/{owner['slug']}/", None, {"Cookie": cookie})
        if route == "webhook":
            body = json.dumps({"thing": "b", "value": random.uniform(10, 90)}).encode()
            headers = webhooks.headers_for(owner["secret"], f"load_{uuid.uuid4().hex}", int(time.time()), body)
            return self._request(
                "gateway", "POST", f"/hooks/{owner['source']}", body, {"Content-Type": "application/json", **headers}
            )
        if route == "acapy":
            return self.peer.send()
        raise ValueError(route)


class Mqtt:
    """A device publishing signed readings with QoS 1 (MQTT 5 user properties carry the webhook headers)."""

    def __init__(self, seed: dict, port: int) -> None:
        import paho.mqtt.client as paho

        self.seed = seed
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=f"load-{os.getpid()}", protocol=paho.MQTTv5
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.lock = threading.Lock()

    def publish(self) -> int | str:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        owner = random.choice(self.seed["owners"])
        body = json.dumps({"thing": "b", "value": random.uniform(10, 90)}).encode()
        properties = Properties(PacketTypes.PUBLISH)
        headers = webhooks.headers_for(owner["secret"], f"mqtt_{uuid.uuid4().hex}", int(time.time()), body)
        properties.UserProperty = list(headers.items())
        with self.lock:
            info = self.client.publish(f"thingstead/{owner['source']}/readings", body, qos=1, properties=properties)
        info.wait_for_publish(timeout=30)
        return 200 if info.is_published() else "no PUBACK"

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def drive(
    seed: dict,
    ports: dict[str, int],
    mqtt: Mqtt,
    peer: AcaPyPeer,
    *,
    clients: int,
    seconds: float,
    rate: float | None,
) -> tuple[Stats, float]:
    """`clients` threads for `seconds`: closed loop (rate None) or paced to `rate` requests/s in all. Returns the
    stats and the wall time."""
    stats = Stats()
    routes, weights = list(MIX), list(MIX.values())
    start = time.monotonic()
    end = start + seconds
    slot = [0]
    slot_lock = threading.Lock()

    def worker() -> None:
        client = Client(seed, ports, peer)
        rng = random.Random()
        while True:
            if rate is not None:
                with slot_lock:
                    due = start + slot[0] / rate
                    slot[0] += 1
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            now = time.monotonic()
            if now >= end:
                return
            route = rng.choices(routes, weights)[0]
            began = time.perf_counter()
            status = mqtt.publish() if route == "mqtt" else client.run(route)
            stats.record(route, status, time.perf_counter() - began)
            if route == "mqtt" and status == 200:
                with stats.lock:
                    stats.mqtt_published.append(now)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stats, time.monotonic() - start


class Sockets:
    """Owners' private-page sockets on Daphne, held open in a thread's event loop; counts the pushes received."""

    def __init__(self, seed: dict, port: int, count: int) -> None:
        self.seed, self.port, self.count = seed, port, count
        self.received = 0
        self.opened = 0
        self.closed_early = 0
        self.stop_event: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.thread.start()
        if not self.ready.wait(120):
            raise SystemExit("the WebSocket clients did not connect")

    async def _main(self) -> None:
        from websockets.asyncio.client import connect

        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        origin = f"http://127.0.0.1:{self.port}"

        async def one(owner: dict) -> None:
            cookie = f"{self.seed['cookie']}={owner['session']}"
            url = f"ws://127.0.0.1:{self.port}/ws/twins/{owner['slug']}/"
            async with connect(url, additional_headers={"Cookie": cookie}, origin=origin, open_timeout=60) as ws:
                self.opened += 1
                if self.opened == self.count:
                    self.ready.set()
                while not self.stop_event.is_set():
                    try:
                        await asyncio.wait_for(ws.recv(), timeout=1)
                        self.received += 1
                    except TimeoutError:
                        continue
                    except Exception:
                        self.closed_early += 1
                        return

        owners = self.seed["owners"]
        await asyncio.gather(*(one(owners[n % len(owners)]) for n in range(self.count)), return_exceptions=True)

    def stop(self) -> None:
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)


# -- the run ---------------------------------------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def add_didcomm(stats: Stats, access: AccessLog, start: int, end: int) -> None:
    """The requests gunicorn logged on ``POST /didcomm/`` between the marks, as the route "didcomm"."""
    for status, ms in access_requests(access.read(start, end), method="POST", path="/didcomm/"):
        stats.record("didcomm", status, ms / 1000)


def print_routes(stats: Stats, wall: float) -> int:
    print(f"{'route':<28} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>8} {'5xx':>4} {'other non-2xx':>14}")
    fives = 0
    for route in (*MIX, "didcomm"):
        statuses = stats.statuses.get(route, {})
        count = sum(statuses.values())
        five = sum(n for status, n in statuses.items() if isinstance(status, int) and status >= 500)
        other = {str(s): n for s, n in statuses.items() if not (isinstance(s, int) and (s < 300 or s >= 500))}
        fives += five
        lat = stats.latency.get(route, [])
        print(
            f"{ROUTE_NAMES.get(route, route):<28} {count:>8} {count / wall:>7.1f} {percentile(lat, 50):>7.1f} "
            f"{percentile(lat, 99):>8.1f} "
            f"{five:>4} {json.dumps(other) if other else '-':>14}"
        )
    return fives


def stored_readings(db: str) -> int:
    return int(srv.psql("SELECT count(*) FROM twins_reading", db))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--probe", type=float, default=30.0, help="seconds of the maximum-rate run")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--owners", type=int, default=20)
    ap.add_argument("--sockets", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--share", type=float, default=0.7, help="of the maximum, for the steady run")
    ap.add_argument("--acapy-twins", type=int, default=4, help="twins the ACA-Py peer connects to")
    args = ap.parse_args()
    if not Path(MOSQUITTO).exists():
        raise SystemExit("Mosquitto is needed (apt-get install mosquitto)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    db = f"bench_load_{os.getpid()}"
    srv.psql(f"CREATE DATABASE {db}")
    broker = Mosquitto(tmp)
    processes: dict[str, subprocess.Popen] = {}
    sockets = mqtt = peer = None
    access = AccessLog(tmp)
    try:
        ports = {"web": srv.free_port(), "ws": srv.free_port(), "gateway": srv.free_port()}
        limits = {
            name: "1000000000/60"
            for name in (
                "RATE_SCAN_PER_CLIENT", "RATE_API_PER_USER", "RATE_API_PER_CLIENT", "RATE_DIDCOMM_PER_SENDER",
                "RATE_DIDCOMM_PER_AGENT",
            )
        }  # fmt: skip
        env = srv.production_env(
            db=db, port=ports["web"], MQTT_URL=f"mqtt://127.0.0.1:{broker.port}", PYTHONPATH=str(ROOT), **limits
        )
        # What invitations and DID documents name as the DIDComm endpoint: ACA-Py must reach it (it cannot
        # resolve *.localhost, FACTS.md); the twins' DIDs keep a two-label domain.
        env["SITE_URL"] = f"http://127.0.0.1:{ports['web']}"
        env["DID_DOMAIN"] = f"bench.localhost:{ports['web']}"
        env["ALLOWED_HOSTS"] = "127.0.0.1,bench.localhost"
        env["DJANGO_SETTINGS_MODULE"] = SETTINGS
        srv.manage(env, "migrate", "-v0")
        out = srv.manage(env, "shell", "-v0", "-c", SEED.format(owners=args.owners))
        seed = json.loads(next(line for line in out.splitlines() if line.startswith("SEED "))[5:])
        srv.psql("ANALYZE", db)
        processes = start_servers(env, args.workers, ports, access)
        srv.settle(list(processes.values()), timeout=60)
        peer = AcaPyPeer(tmp / "acapy")
        peer.start()
        twins = [owner["twin"] for owner in seed["owners"][: args.acapy_twins]]
        took = peer.connect(env, db, twins)
        print(f"ACA-Py connected to {len(twins)} twins (DID Exchange, both sides completed) in {took:.1f} s")
        everyone = {**processes, "acapy": peer.agent.process}
        sockets = Sockets(seed, ports["ws"], args.sockets)
        mqtt = Mqtt(seed, broker.port)
        print(
            f"Load: gunicorn 4x4 gthread, Daphne, gateway x2, MQTT bridge, {args.workers} task workers; PostgreSQL, "
            f"Redis; an ACA-Py agent connected to {len(twins)} twins; {args.owners} owners, {args.sockets} sockets "
            f"open; {args.clients} client threads on the same machine; load average before {srv.load_average():.1f}"
        )
        drive(seed, ports, mqtt, peer, clients=args.clients, seconds=5, rate=None)  # warm-up
        mark = access.mark()
        stats, wall = drive(seed, ports, mqtt, peer, clients=args.clients, seconds=args.probe, rate=None)
        add_didcomm(stats, access, mark, access.mark())
        maximum = sum(sum(s.values()) for route, s in stats.statuses.items() if route != "didcomm") / wall
        print(f"\n1. maximum: {maximum:.0f} requests/s ({args.probe:.0f} s closed loop)")
        fives = print_routes(stats, wall)
        rate = maximum * args.share
        print(f"\n2. steady: {rate:.0f} requests/s ({args.share:.0%}) for {args.minutes:g} min")
        rss_start = rss_table(everyone)
        readings_before = stored_readings(db)
        sent_before = len(peer.sent)
        mark = access.mark()
        stats, wall = drive(seed, ports, mqtt, peer, clients=args.clients * 2, seconds=args.minutes * 60, rate=rate)
        rss_end = rss_table(everyone)
        served = sum(sum(s.values()) for route, s in stats.statuses.items() if route != "didcomm") / wall
        print(f"served {served:.0f} requests/s; load average {srv.load_average():.1f}")
        contents, rows, history = peer.wait_arrived(db)
        add_didcomm(stats, access, mark, access.mark())
        fives += print_routes(stats, wall)
        webhooks_ok = stats.statuses["webhook"].get(200, 0)
        mqtt_ok = stats.statuses["mqtt"].get(200, 0)
        expected = readings_before + webhooks_ok + mqtt_ok
        deadline = time.monotonic() + 60
        while stored_readings(db) < expected and time.monotonic() < deadline:
            time.sleep(1)
        print(
            f"readings stored in the steady run: {stored_readings(db) - readings_before} "
            f"(webhooks answered 200: {webhooks_ok}, MQTT readings the broker took: {mqtt_ok})"
        )
        missing = set(peer.sent) - contents
        print(
            f"ACA-Py basic messages: {len(peer.sent)} taken by its admin API ({len(peer.sent) - sent_before} in the "
            f"steady run), {len(contents)} arrived (stored on its connections; {rows} rows, {history} signed history "
            f"entries), {len(missing)} missing"
        )
        print(
            f"WebSockets: {sockets.opened} opened, {sockets.closed_early} closed by the server, "
            f"{sockets.received} pushes received"
        )
        print(f"\n{'process':<32} {'RSS start':>10} {'RSS end':>9}")
        for name in sorted(set(rss_start) | set(rss_end)):
            print(f"{name:<32} {rss_start.get(name, 0):>9.1f}M {rss_end.get(name, 0):>8.1f}M")
        for name, proc in processes.items():
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}:\n{srv.log_tail(proc)}")
                fives += 1
        if fives:
            print(f"gunicorn's error log (tail):\n{srv.log_tail(processes['gunicorn'])}")
        if peer.agent.process is None or peer.agent.process.poll() is not None:
            print(f"ACA-Py exited:\n{peer.agent.log_tail()}")
            fives += 1
        if fives or missing or rows != len(contents) or history != rows:
            raise SystemExit(
                f"{fives} server errors (5xx) or exited processes; {len(missing)} ACA-Py messages not stored; "
                f"{rows - len(contents)} stored twice; {rows - history} without their history entry"
            )
    finally:
        if sockets is not None:
            sockets.stop()
        if mqtt is not None:
            mqtt.stop()
        if peer is not None:
            peer.stop()
        for proc in processes.values():
            srv.stop(proc)
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        srv.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
