"""The cost of provenance on the device side: readings per second one reference client (device/) sustains to the
ingest gateway with device signatures on, against the same client without them, in the same run.

Production settings (PostgreSQL, Redis, DEBUG off), the gateway as in production (`manage.py ingest_gateway
--workers 2`), no task worker. One client process does everything a device does per reading: make it, sign it
(or not), commit it to its SQLite queue (fsync), seal messages, sign them (Standard Webhooks) and POST them.
Two patterns, rounds alternating signed/unsigned, medians reported:

- backlog: 5,000 readings recorded, then sent in messages of 500 (a device catching up after an outage);
- live: one reading recorded and sent at a time, 300 of them (`python -m device send` in a loop, without the
  process start).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _server as srv
from device.client import Client
from device.config import Config
from device.outbox import Outbox
from ssi.keys import SigningKey

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BACKLOG = 5000
LIVE = 300

SEED = """
from owners.models import Owner
from twins import services as twins
from ingest import services as ingest, devices
owner = Owner.objects.create_user(username="bench", password="x")
twin = twins.twin_create(owner=owner, name="Bench thing", reading_kind="temp", reading_unit="C")
source, secret = ingest.source_create(owner=owner, name="Bench", rate_limit="1000000000/60")
ingest.source_link_thing(source=source, twin=twin, external_id="bedroom")
devices.device_key_add(twin=twin, public_key="{key}", label="bench")
print(source.public_id, secret)
"""


def client(home: Path, server: str, public_id: str, secret: str, key: SigningKey | None) -> Client:
    config = Config(server=server, source=public_id, secret=secret, thing="bedroom", kind="temp", batch=500)
    return Client(config=config, outbox=Outbox(home / "queue.sqlite3"), key=key)


def backlog(device: Client, start: datetime) -> float:
    began = time.perf_counter()
    device.record_many(device.reading(n % 1000, time=start + timedelta(milliseconds=n)) for n in range(BACKLOG))
    result = device.flush()
    elapsed = time.perf_counter() - began
    assert result.done and result.sent == BACKLOG, result
    return BACKLOG / elapsed


def live(device: Client, start: datetime) -> float:
    began = time.perf_counter()
    for n in range(LIVE):
        device.record(n, time=start + timedelta(milliseconds=n))
        result = device.flush()
        assert result.done and result.sent == 1, result
    return LIVE / (time.perf_counter() - began)


def main() -> int:
    db = f"thingstead_bench_device_{os.getpid()}"
    gw_port = srv.free_port()
    env = srv.production_env(db=db, port=srv.free_port())
    srv.psql(f"CREATE DATABASE {db}")
    key = SigningKey.generate()
    gateway = None
    results: dict[tuple[str, bool], list[float]] = {}
    try:
        srv.manage(env, "migrate", "-v0")
        public_id, secret = srv.manage(env, "shell", "-v0", "-c", SEED.replace("{key}", key.multibase)).split()[-2:]
        gateway = srv.serve([srv.PYTHON, "manage.py", "ingest_gateway", "--port", str(gw_port), "--workers", "2"], env)
        server = f"http://127.0.0.1:{gw_port}"
        srv.wait_for(f"{server}/healthz", gateway)
        srv.settle([gateway])
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(ROUNDS):
                for signed in (True, False):
                    home = Path(tmp) / f"{round_}-{signed}"
                    device = client(home, server, public_id, secret, key if signed else None)
                    try:
                        for name, run in (("backlog", backlog), ("live", live)):
                            start += timedelta(hours=1)
                            results.setdefault((name, signed), []).append(run(device, start))
                    finally:
                        device.close()
    finally:
        if gateway is not None:
            srv.stop(gateway)
        srv.psql(f"DROP DATABASE IF EXISTS {db}")
    print(f"Device client benchmark: one client, PostgreSQL + Redis, ingest gateway 2 workers, {ROUNDS} rounds")
    print(f"load average {srv.load_average():.1f}")
    for name, what in (("backlog", f"backlog, {BACKLOG} readings in messages of 500"), ("live", "live, one by one")):
        on = statistics.median(results[(name, True)])
        off = statistics.median(results[(name, False)])
        print(f"{what}: signed {on:,.0f} readings/s, unsigned {off:,.0f} readings/s, ratio {on / off:.2f}")
        print(
            f"    rounds signed {[round(x) for x in results[(name, True)]]}, unsigned "
            f"{[round(x) for x in results[(name, False)]]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
