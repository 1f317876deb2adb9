"""Cards benchmark: the things list (cards page and /api/things/) for an owner with 100,000 things, on PostgreSQL.

Makes a throwaway PostgreSQL database with production settings (DEBUG off, Redis), migrates it, loads an owner
with BENCH_THINGS things (default 100,000: attributes colour/weight/size as the forms store them, kinds, models,
four in five with a latest reading, one in a hundred lost, tags, labels, places and group memberships on some)
and a neighbour with 10,000 of their own, by COPY, then VACUUM ANALYZE (autovacuum is off here). Then, in this
process (Django's test client: server time, from the request entering the middleware to the response, without
the HTTP server), times each list request BENCH_REPEAT times (default 30, after a warm-up) and prints its p50,
p95, median CPU time of this process (the web worker's own work, which load moves far less), number of queries
and slowest query (its time and first table, from one run), for:

- the cards page and the API (keyset mode, `?cursor=`), first page and a deep page (a cursor 90% of the way in),
  sorted by name and by newest reading, filtered by attribute equality (GIN), numeric comparison, kind, model,
  name (trigram), tag, lost, last-seen and group, and the search box (a common name, an attribute value, one
  thing's serial; the cards page also counts a search's matches for its selection bar, the API does not);
- the floor: /bench/constant, a constant page through the same middleware (sessions, auth, CSP, ...).

Target: every list request's p95 under 50 ms, and a constant number of queries per page (the same on the first
and the deep page). Prints the ratio of each p95 to the floor's. Run: `python bench/cards.py`.

BENCH_ROUNDS (default 1) repeats the floor and every request that many times, interleaved (round 1: the floor, then
each request; round 2: the same...), and prints each request's median p50/p95 over the rounds and the median of its
per-round ratio to the floor's p95 measured in the same round (the machine drifts; a ratio read against a floor
timed minutes earlier says little on a shared machine).

The probe of twins.not_live.NotLiveMiddleware (one query by the slug on every request under /things/<slug>/ and
/api/things/<slug>/): a thing's page and its API detail are timed with the middleware and, in the same rounds,
through a client whose middleware list leaves it out; the difference in queries and time is the probe's cost.

`BENCH_DB=name` keeps the database (loaded on the first run, migrated and ANALYZEd again on later ones) for
measuring one change after another; `BENCH_ONLY=text` times only the requests whose label contains the text.
"""

from __future__ import annotations

import io
import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _server as srv

THINGS = int(os.environ.get("BENCH_THINGS", "100000"))
NEIGHBOUR = int(os.environ.get("BENCH_NEIGHBOUR_THINGS", "10000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
NOT_LIVE_MIDDLEWARE = "twins.not_live.NotLiveMiddleware"
KEEP_DB = os.environ.get("BENCH_DB", "")
ONLY = os.environ.get("BENCH_ONLY", "")
SLOWEST: dict[str, str] = {}  # url -> its slowest query in the counted run, and its first table
CPU_MS: dict[str, float] = {}  # url -> median CPU ms of this process per request, in the last timed run
TARGET_MS = 50.0
# The things' columns COPY fills (every NOT NULL one without a default: tests/bench/test_copy_columns.py).
TWIN_COLUMNS = (
    "owner_id, slug, name, icon, model_name, serial, attributes, photo, description, reading_kind, "
    "reading_unit, use_profile_contact, show_thing_name, show_photo, show_description, lost, lost_reward, "
    "latest_value, latest_unit, latest_at, did, require_device_signature, created_at, updated_at, "
    "contact_name, contact_email, contact_phone, contact_message, show_name, show_email, show_phone, show_message, "
    "arriving, moved_to, leaving_to"
)
COLOURS = ["red", "green", "blue", "black", "white", "yellow", "orange", "purple"]
KINDS = ["thing", "coffee", "health", "animal", "vehicle", "home", "tool", "lock"]


def setup_django(db: str) -> None:
    env = srv.production_env(db=db, port=8000, ALLOWED_HOSTS="testserver,127.0.0.1")
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()


def load(owner_id: int, neighbour_id: int) -> None:
    """COPY the things (and their tags, labels, places, groups) straight into the tables; VACUUM ANALYZE after."""
    from django.db import connection

    rng = random.Random(16)
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def rows(owner: int, count: int, prefix: str):
        for i in range(count):
            latest = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365)) if rng.random() < 0.8 else None
            attributes = (
                f'{{"colour": "{rng.choice(COLOURS)}", "weight": "{rng.uniform(0, 100):.1f}", '
                f'"size": "{rng.choice("SML")}"}}'
            )
            yield (
                owner,
                f"{prefix}{i:08d}bench{owner:04d}",
                f"{rng.choice(['Drill', 'Cow', 'Sensor', 'Ladder', 'Kettle', 'Van'])} {i:06d}",
                rng.choice(KINDS),
                f"M-{rng.randrange(50):02d}",
                f"SN{i:07d}",
                attributes,
                "",
                "",
                "reading",
                "",
                "t",
                "t",
                "f",
                "f",
                "t" if rng.random() < 0.01 else "f",
                "",
                f"{rng.uniform(0, 50):.2f}" if latest else None,
                "°C" if latest else "",
                latest.isoformat() if latest else None,
                "",
                "f",
                now.isoformat(),
                now.isoformat(),
                "",
                "",
                "",
                "",
                "f",
                "f",
                "f",
                "f",
                "f",
                "",
                "",
            )

    def copy(table: str, cols: str, data) -> None:
        buffer = io.StringIO()
        for row in data:
            buffer.write("\t".join("\\N" if value is None else str(value) for value in row) + "\n")
        buffer.seek(0)
        connection.ensure_connection()
        with connection.connection.cursor() as cursor, cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copier:
            copier.write(buffer.getvalue())

    copy("twins_twin", TWIN_COLUMNS, rows(owner_id, THINGS, "a"))
    copy("twins_twin", TWIN_COLUMNS, rows(neighbour_id, NEIGHBOUR, "b"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM twins_twin WHERE owner_id = %s ORDER BY id", [owner_id])
        ids = [row[0] for row in cursor.fetchall()]
    from fleets.models import Group, Membership
    from inventory.models import Label, Location, Placement
    from tags.models import Tag

    labels = [Label.objects.create(owner_id=owner_id, name=f"Label {n}", colour="#3366cc") for n in range(5)]
    places = [Location.objects.create(owner_id=owner_id, name=f"Barn {n}") for n in range(5)]
    groups = [Group.objects.create(owner_id=owner_id, name=f"Herd {n}") for n in range(5)]
    tagged = ids[::10]
    Tag.objects.bulk_create([Tag(twin_id=twin_id) for twin_id in tagged], batch_size=5000)
    Label.twins.through.objects.bulk_create(
        [Label.twins.through(label_id=labels[n % 5].pk, twin_id=twin_id) for n, twin_id in enumerate(ids[::7])],
        batch_size=5000,
    )
    Placement.objects.bulk_create(
        [Placement(twin_id=twin_id, location=places[n % 5], moved_at=now) for n, twin_id in enumerate(ids[::3])],
        batch_size=5000,
    )
    Membership.objects.bulk_create(
        [Membership(group=groups[n % 5], twin_id=twin_id) for n, twin_id in enumerate(ids[::2])], batch_size=5000
    )
    analyze(vacuum=True)


def analyze(*, vacuum: bool = False) -> None:
    """Fresh statistics (autovacuum is off here): after the load, and after migrations add indexes."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    raw.autocommit = True
    with raw.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")


def timed(client, url: str) -> tuple[float, float, int]:
    """p50 and p95 in ms over REPEAT requests (after a warm-up), and the queries of one request. The median CPU ms
    of this process per request goes to CPU_MS[url] (the web worker's share: load moves it far less than wall)."""
    from django.db import connection

    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:500])
    queries: list[tuple[float, str]] = []

    def count(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append(((time.perf_counter() - started) * 1000, sql))

    # Counted as they run (the request's start resets Django's own query log).
    with connection.execute_wrapper(count):
        client.get(url)
    slowest = max(queries, default=(0.0, ""))
    table = re.search(r'FROM "(\w+)"', slowest[1])
    SLOWEST[url] = f"{slowest[0]:.0f} ms {table.group(1) if table else '?'}"
    times, cpu = [], []
    for _ in range(REPEAT):
        started, cpu_started = time.perf_counter(), time.process_time()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    times.sort()
    CPU_MS[url] = statistics.median(cpu)
    return statistics.median(times), times[int(len(times) * 0.95) - 1], len(queries)


PROBES = 300


def probe_time(slug: str) -> dict[str, float]:
    """NotLiveMiddleware's probe for a GET (twins.not_live: the not-live twin with this slug, if any), PROBES
    times: median wall µs and mean CPU µs of this process (the ORM's share; CPU moves far less with the load than
    wall time does); and the same question as one hand-written statement on the partial index's columns, for
    comparison (a cheaper probe: status.md, session 10)."""
    from django.db import connection

    from twins.models import Twin

    def orm() -> None:
        Twin.objects.not_live().filter(slug=slug).first()

    def raw() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM twins_twin WHERE slug = %s AND (arriving OR moved_to <> '') LIMIT 1", [slug])
            cursor.fetchone()

    result = {}
    for name, probe in (("orm", orm), ("raw", raw)):
        times = []
        cpu = time.process_time()
        for _ in range(PROBES):
            started = time.perf_counter()
            probe()
            times.append((time.perf_counter() - started) * 1e6)
        result[f"{name}_cpu"] = (time.process_time() - cpu) * 1e6 / PROBES
        result[f"{name}_wall"] = statistics.median(times)
    return result


def main() -> int:
    db = KEEP_DB or f"bench_cards_{os.getpid()}"
    reuse = bool(KEEP_DB) and srv.psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'") == "1"
    if not reuse:
        srv.psql(f"CREATE DATABASE {db}")
    try:
        setup_django(db)
        from django.core.management import call_command
        from django.test import Client

        from owners.models import Owner
        from twins.models import Twin
        from twins.selectors import Cursor

        call_command("migrate", verbosity=0)
        if reuse:
            owner = Owner.objects.get(username="bench")
            analyze()
            print(f"reusing {db}: {Twin.objects.filter(owner=owner).count():,} things")
        else:
            owner = Owner.objects.create_user("bench", "bench@example.org", "bench-password-1")
            neighbour = Owner.objects.create_user("neighbour", "neighbour@example.org", "bench-password-1")
            started = time.perf_counter()
            load(owner.pk, neighbour.pk)
            print(f"loaded {THINGS:,} things (+{NEIGHBOUR:,} of a neighbour) in {time.perf_counter() - started:.0f} s")

        client = Client()
        client.force_login(owner)
        mine = Twin.objects.filter(owner=owner)
        deep_name = mine.order_by("name", "id")[int(THINGS * 0.9)]
        deep_latest = mine.order_by("-latest_at", "-id").exclude(latest_at=None)[int(THINGS * 0.7)]
        from fleets.models import Group

        herd = Group.objects.filter(owner=owner).order_by("name").first()
        name_cursor = Cursor.of(deep_name, "name").encode()
        latest_cursor = Cursor.of(deep_latest, "-latest").encode()
        cases = [
            ("cards: first page", "/things/"),
            ("cards: deep page (90%)", f"/things/?cursor={name_cursor}"),
            ("cards: newest reading first", "/things/?sort=-latest"),
            ("cards: newest, deep page", f"/things/?sort=-latest&cursor={latest_cursor}"),
            ("cards: attr colour=red", "/things/?attr=colour%3Dred"),
            ("cards: attr weight>99.5", "/things/?attr=weight%3E99.5"),
            ("cards: kind + model", "/things/?kind=tool&model=M-07"),
            ("cards: name contains (trgm)", "/things/?name=ladder+0123"),
            ("cards: has tag, -latest", "/things/?tagged=yes&sort=-latest"),
            ("cards: lost", "/things/?lost=yes"),
            ("cards: seen after", "/things/?seen_after=2026-11-30&sort=-latest"),
            ("cards: search box", "/things/?q=Kettle"),
            ("cards: search an attribute", "/things/?q=purple"),
            ("cards: search a serial", "/things/?q=SN0012345"),
            ("cards: group filter", f"/things/?group={herd.pk}"),
            # The selection bar's number, fetched by the page (bulk.js) beside it: the query strings the bar names.
            ("cards: bar count, plain", "/bulk/count"),
            ("cards: bar count, has tag", "/bulk/count?sort=-latest&tagged=yes"),
            ("cards: bar count, group", f"/bulk/count?group={herd.pk}"),
            ("cards: bar count, q=purple", "/bulk/count?q=purple"),
            ("api: first page", "/api/things/?cursor="),
            ("api: deep page (90%)", f"/api/things/?cursor={name_cursor}"),
            ("api: colour=red, -latest", "/api/things/?cursor=&attr=colour%3Dred&sort=-latest"),
            ("api: size=S & weight<10", "/api/things/?cursor=&attr=size%3DS&attr=weight%3C10"),
            ("api: search an attribute", "/api/things/?cursor=&q=purple"),
            ("api: kind, deep -latest", f"/api/things/?cursor={latest_cursor}&sort=-latest&kind=animal"),
        ]
        # The same owner through a middleware list without NotLiveMiddleware (the client builds its handler, and
        # so its middleware chain, on its first request: under the override here, kept after it).
        from django.conf import settings
        from django.test import override_settings

        with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != NOT_LIVE_MIDDLEWARE]):
            unprobed = Client()
            unprobed.force_login(owner)
            unprobed.get("/bench/constant")
        thing = mine.order_by("id")[THINGS // 2]
        probe_cases = [
            ("thing: page", f"/things/{thing.slug}/"),
            ("thing: API detail", f"/api/things/{thing.slug}/"),
        ]
        cases = [(label, url, client) for label, url in cases + probe_cases]
        cases += [(f"{label}, no probe", url, unprobed) for label, url in probe_cases]
        cases = [case for case in cases if not ONLY or ONLY in case[0]]
        rows: dict[str, list[tuple[float, float, int, float, float]]] = {label: [] for label, _, _ in cases}
        floors, floor_cpu, probes = [], [], []
        for _ in range(ROUNDS):
            floors.append(timed(client, "/bench/constant"))
            floor_cpu.append(CPU_MS["/bench/constant"])
            probes.append(probe_time(thing.slug))
            for label, url, who in cases:
                p50, p95, queries = timed(who, url)
                rows[label].append((p50, p95, queries, p95 / floors[-1][1], CPU_MS[url]))
        floor_p50 = statistics.median(f[0] for f in floors)
        floor_p95 = statistics.median(f[1] for f in floors)
        print(
            f"{ROUNDS} round(s) of {REPEAT} requests each, interleaved; medians over rounds; "
            f"load average {srv.load_average():.1f} at the end"
        )
        print(
            f"{'request':<32} {'p50 ms':>7} {'p95 ms':>7} {'CPU ms':>7} {'queries':>7} {'p95/floor':>9}  slowest query"
        )
        print(
            f"{'floor: /bench/constant':<32} {floor_p50:>7.1f} {floor_p95:>7.1f} {statistics.median(floor_cpu):>7.1f} "
            f"{floors[0][2]:>7} "
            f"{1:>8.1f}x"
        )
        worst = 0.0
        counts = {}
        for label, url, _ in cases:
            p50 = statistics.median(r[0] for r in rows[label])
            p95 = statistics.median(r[1] for r in rows[label])
            ratio = statistics.median(r[3] for r in rows[label])
            cpu = statistics.median(r[4] for r in rows[label])
            queries = sorted({r[2] for r in rows[label]})
            if label.startswith(("cards", "api")):
                worst = max(worst, p95)
                counts.setdefault(label.split(":")[0], set()).update(queries)
            shown = "/".join(str(q) for q in queries)
            print(f"{label:<32} {p50:>7.1f} {p95:>7.1f} {cpu:>7.1f} {shown:>7} {ratio:>8.1f}x  {SLOWEST[url]}")
        probe = {key: statistics.median(p[key] for p in probes) for key in probes[0]}
        print(
            f"NotLiveMiddleware probe alone ({PROBES} times a round, medians over rounds): ORM .first() "
            f"{probe['orm_wall']:.0f} µs wall ({probe['orm_wall'] / 10 / floor_p50:.1f} % of the floor's p50), "
            f"{probe['orm_cpu']:.0f} µs CPU here; one SQL statement {probe['raw_wall']:.0f} µs wall, "
            f"{probe['raw_cpu']:.0f} µs CPU"
        )
        for label, _ in probe_cases:
            if label in rows and f"{label}, no probe" in rows:
                with_probe, without = rows[label], rows[f"{label}, no probe"]
                p50_cost = statistics.median(w[0] - n[0] for w, n in zip(with_probe, without, strict=True))
                print(
                    f"NotLiveMiddleware probe, {label}: {with_probe[0][2] - without[0][2]} query, "
                    f"p50 {p50_cost:+.2f} ms (median over rounds of the difference)"
                )
        if not counts:
            return 0
        print(
            f"worst list p95 {worst:.1f} ms (target < {TARGET_MS:.0f} ms): {'met' if worst < TARGET_MS else 'MISSED'}; "
            f"queries per request: cards {sorted(counts.get('cards', ()))}, api {sorted(counts.get('api', ()))}"
        )
        return 0 if worst < TARGET_MS else 1
    finally:
        from django.db import connections

        connections.close_all()
        if not KEEP_DB:
            srv.psql(f"DROP DATABASE IF EXISTS {db}")


if __name__ == "__main__":
    sys.exit(main())
