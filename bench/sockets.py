"""Benchmark: 1,000 WebSocket connections opened and closed against the production ASGI server, and its memory.

Starts Daphne as README's production command (`daphne config.asgi:application`, DEBUG off, the Redis channel
layer), then: a warm-up of 50 sockets; then ROUNDS rounds, each opening COUNT sockets on ``/didcomm/ws`` at once,
holding them, and closing them all. Prints Daphne's RSS at start, with the sockets open, and a few seconds after
they closed, each round. Memory that climbs round after round is a leak; memory that rises in the first round and
stays level after is what the allocator keeps for the next burst (CPython's arenas and glibc's heap are not
returned to the system), bounded by the largest number of sockets open at once, which the cap bounds.

The caps are raised for the measurement (1,000 sockets from one address); ``--default-caps`` keeps production's
(``DIDCOMM_WS_MAX_CONNECTIONS=200`` per process, ``DIDCOMM_WS_MAX_PER_CLIENT=20`` per address): the sockets over
them are closed at once with 4503 and counted.

Run: ``python bench/sockets.py [--count 1000] [--rounds 3] [--default-caps]`` (needs Redis, and `websockets` from
requirements-dev.txt). About a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _server as srv


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def burst(url: str, count: int) -> tuple[list, int]:
    """Open `count` sockets at once; the open ones, and how many the server closed at once (a cap)."""
    from websockets.asyncio.client import connect

    async def one():
        ws = await connect(url, open_timeout=60, close_timeout=10, max_size=2**20)
        try:
            await asyncio.wait_for(ws.recv(), timeout=0.5)
        except TimeoutError:
            return ws  # still open: accepted
        except Exception:
            pass
        await ws.close()
        return None

    sockets = []
    for start in range(0, count, 100):  # 100 handshakes at a time: a listen backlog of 128 would drop some
        sockets += await asyncio.gather(*(one() for _ in range(min(100, count - start))))
    opened = [ws for ws in sockets if ws is not None]
    return opened, count - len(opened)


async def close_all(sockets: list) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after closing before RSS is read")
    ap.add_argument("--default-caps", action="store_true")
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for Daphne (e.g. MALLOC_ARENA_MAX=2)")
    args = ap.parse_args()
    port = srv.free_port()
    tmp = tempfile.mkdtemp(prefix="bench-sockets-")
    caps = {} if args.default_caps else {"DIDCOMM_WS_MAX_CONNECTIONS": "100000", "DIDCOMM_WS_MAX_PER_CLIENT": "100000"}
    # The DIDComm socket reads no database on connect: a SQLite file stands in for PostgreSQL.
    extra = dict(item.split("=", 1) for item in args.env)
    env = srv.production_env(db="unused", port=port, DATABASE_URL=f"sqlite:///{tmp}/db.sqlite3", **caps, **extra)
    daphne = srv.serve([str(srv.BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"], env)
    url = f"ws://127.0.0.1:{port}/didcomm/ws"
    try:
        srv.wait_for(f"http://127.0.0.1:{port}/healthz", daphne)
        warm, _ = asyncio.run(_round(url, 50))
        time.sleep(args.settle)
        start = rss_mb(daphne.pid)
        caps_text = "default" if args.default_caps else "raised"
        print(f"Daphne, /didcomm/ws, {args.count} sockets a round, caps {caps_text} {' '.join(args.env)}".rstrip())
        print(f"load average {srv.load_average():.1f}; RSS after start and 50 warm-up sockets: {start:.1f} MB")
        print(f"{'round':>5} {'accepted':>8} {'refused':>7} {'RSS open':>9} {'RSS closed':>10} {'vs start':>9}")
        for n in range(1, args.rounds + 1):
            (accepted, refused), open_rss = asyncio.run(_round(url, args.count, pid=daphne.pid))
            time.sleep(args.settle)
            closed_rss = rss_mb(daphne.pid)
            print(
                f"{n:>5} {accepted:>8} {refused:>7} {open_rss:>8.1f}M {closed_rss:>9.1f}M {closed_rss - start:>+8.1f}M"
            )
        assert daphne.poll() is None, srv.log_tail(daphne)
    finally:
        srv.stop(daphne)
        _ = warm


async def _round(url: str, count: int, pid: int | None = None):
    opened, refused = await burst(url, count)
    open_rss = rss_mb(pid) if pid else 0.0
    await close_all(opened)
    return (len(opened), refused), open_rss


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
