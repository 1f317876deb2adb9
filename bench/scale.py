"""Scale benchmark: a million twins. The same measures on a nearly empty database and on a full one, in one run.

Makes its own PostgreSQL database (production settings: DEBUG off, Redis; dropped at the end unless `--keep`),
migrates it (readings partitioned by month, twins 0012) and seeds the probes every measure uses:

- the big owner (`bench`), with EMPTY_THINGS generated things (attributes colour/weight/size, 10 tags each, their
  readings), a thing with one reading a minute over the last 30 days (the chart), a tag on it (the scans), and an
  ingest source feeding two of the owner's things (the batches, as bench/ingest.py posts them).

Phase "empty": ANALYZE, then the measures. Then the load, by COPY of generated data, with the secondary indexes,
unique constraints and foreign keys of the loaded tables dropped and built again after, then ANALYZE: 10,000 owners,
1,000,000 things (the big owner's grow to 100,000; the rest spread over the others), 10 tags a thing, 100 readings
a thing over the last year (written in time order, every thing's readings interleaved as devices send them; the
chart thing's month is moved into that stream too, so its rows are spread over the heap as they would be).
`--scale 0.01` multiplies every size. Phase "full": the same measures. Then each figure full/empty; target ≤ 2x.

Measures, in this process through Django's test client (server time, as bench/cards.py's `timed`, imported): a
tag scan by a finder (public page) and by the owner (the one-tap form), the big owner's cards page (first and a
deep keyset page, queries counted: the same on both), the API's attribute filter (`attr=colour=red`), the 30-day
chart (`/readings/series`: min/avg/max per bucket). Batch ingestion through the ingest gateway (a server process,
bench/ingest.py's `batch_load` and `CopyFloor`, imported): signed 1,000-reading webhooks, readings/s, with the
COPY floor measured next to it.

Each phase also prints its checks: the queries of every measured page (the same number at both sizes, none paging
by OFFSET) and the chart's plan (EXPLAIN ANALYZE, BUFFERS: the monthly partitions it reads). After each ingestion
measure the partitions it wrote to are VACUUMed and ANALYZEd (autovacuum's work in production; the COPY floor's
deleted rows otherwise bloat the nearly empty database's current month and stale counts change the plans).

`--measure-only --db <kept>`: the two phases above are half an hour apart on a shared machine, so their ratios
compare two different machines. This measures a kept full database and a nearly empty one (`--empty-db`, default
scale_empty: made when missing, with the same probes, and kept) in alternate rounds (empty then full, full then
empty, ...; `--rounds`, 5; `--repeat` requests per measure, 15), each database in a process of its own with its own
gateway, and prints each measure's full/empty as the median of the rounds' own ratios, and how long it took (about
15 minutes at the full size). A kept database keeps the keys its rows were sealed under (table scale_bench_keys).

Refuses to start when its estimate of the database's size exceeds `--max-gb` (default 40) or the free disk.
Run: `python bench/scale.py` (`--scale 0.01`, the default: a couple of minutes; what `make bench` runs),
`python bench/scale.py --scale 1 --keep --db scale_full` (the full size: about an hour on this 2-core machine, ~30 GB
of disk), then `python bench/scale.py --measure-only --db scale_full`."""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _server as srv


def _bench_module(name: str):
    """A sibling benchmark as a module, under a name of its own (bench/ingest.py would shadow the ingest app)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cards = _bench_module("cards")
bench_ingest = _bench_module("ingest")

OWNERS = 10_000
THINGS = 1_000_000
BIG = 100_000
TAGS_PER_THING = 10
READINGS_PER_THING = 100
EMPTY_THINGS = 100  # the big owner's things in the nearly empty phase
# --measure-only's nearly empty database: enough things that every measured page is a full page there too (the
# attribute filter's deep page starts at 90 % of the red things, one thing in eight: with 100 things its pages held
# 13 and 1-2 rows against 50 at the full size, so the ratio compared different pages).
MEASURE_EMPTY_THINGS = 5_000
CHART_DAYS = 30
TARGET = 2.0
# Bytes on disk per row, tables and indexes together, measured with --scale 0.01 (see --max-gb).
BYTES_PER = {"thing": 630, "tag": 370, "reading": 270}
COLOURS = ["red", "green", "blue", "black", "white", "yellow", "orange", "purple"]
NAMES = ["Drill", "Cow", "Sensor", "Ladder", "Kettle", "Van", "Pump", "Meter"]
KINDS = ["thing", "coffee", "health", "animal", "vehicle", "home", "tool", "lock"]
LOADED = ("twins_twin", "tags_tag", "twins_reading")


@dataclass(frozen=True)
class Sizes:
    owners: int
    things: int
    big: int
    tags_per_thing: int
    readings_per_thing: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        things = max(EMPTY_THINGS * 2, round(THINGS * scale))
        return cls(
            owners=max(2, round(OWNERS * scale)),
            things=things,
            big=max(EMPTY_THINGS, round(BIG * scale)),
            tags_per_thing=TAGS_PER_THING,
            readings_per_thing=READINGS_PER_THING,
        )

    def estimate_bytes(self) -> int:
        return (
            self.things * BYTES_PER["thing"]
            + self.things * self.tags_per_thing * BYTES_PER["tag"]
            + self.things * self.readings_per_thing * BYTES_PER["reading"]
        )


# --- generated rows ----------------------------------------------------------------------------------------------

TWIN_COLUMNS = (
    "owner_id, slug, name, icon, model_name, serial, attributes, photo, description, reading_kind, reading_unit,"
    " use_profile_contact, show_thing_name, show_photo, show_description, lost, lost_reward, latest_value,"
    " latest_unit, latest_at, did, require_device_signature, created_at, updated_at, contact_name, contact_email,"
    " contact_phone, contact_message, show_name, show_email, show_phone, show_message, arriving, moved_to, leaving_to"
)
TAG_COLUMNS = "token, code, twin_id, status, label, batch, created_at"
READING_COLUMNS = "twin_id, value, time, kind, unit, source, note, created_at, device_signed, device_key, signature"


def twin_lines(owner_ids: list[int], first: int, now: datetime) -> Iterator[str]:
    """One COPY line per thing, for each owner id in `owner_ids` (one id per thing), numbered from `first`."""
    stamp = now.isoformat()
    for n, owner in enumerate(owner_ids, start=first):
        h = (n * 2654435761) & 0xFFFFFFFF  # a cheap, fixed spread of the attributes
        # The colour from other bits than the name's (h % 8): with the same bits every "red" thing was a "Drill",
        # so the attribute filter's first page in name order skipped all the "Cow"s first (12,500 rows at 1M).
        colour = COLOURS[(h >> 11) % 8]
        attributes = f'{{"colour": "{colour}", "weight": "{h % 1000 / 10:.1f}", "size": "{"SML"[h % 3]}"}}'
        latest = (now - timedelta(minutes=h % (60 * 24 * 365))).isoformat()
        yield (
            f"{owner}\ts{n:08d}scale\t{NAMES[h % 8]} {n:07d}\t{KINDS[h % 8]}\tM-{h % 50:02d}\tSN{n:08d}\t"
            f"{attributes}\t\t\ttemp\t°C\tt\tt\tf\tf\t{'t' if h % 100 == 0 else 'f'}\t\t{h % 500 / 10:.1f}\t°C\t"
            f"{latest}\t\tf\t{stamp}\t{stamp}\t\t\t\t\tf\tf\tf\tf\tf\t\t\n"
        )


# Tags and readings are generated by PostgreSQL itself (INSERT ... SELECT from generate_series over the loaded
# things, numbered in the unlogged table scale_ids): a hundred million rows written out by Python and parsed back by
# COPY cost several times the CPU on this 2-core machine (8.5 µs a line to generate here, under load, against
# 7 µs a row for the whole server-side insert).
IDS = "scale_ids"


def tag_sql(per_thing: int, first: int, job: int, jobs: int, now: datetime) -> str:
    """Active tags, `per_thing` per thing of scale_ids (those with n % jobs = job); tokens and codes unique (n is
    unique across loads: `first` numbers the load's things) and codes start with U, not in Crockford's alphabet, so
    they never meet a random code."""
    return (
        "INSERT INTO tags_tag (token, code, twin_id, status, label, batch, created_at)"
        f" SELECT md5(q.k::text) || lpad(q.k::text, 10, '0'), 'U' || lpad(upper(to_hex(q.k)), 7, '0'), q.id,"
        f" 'active', '', '', '{now.isoformat()}'"
        f" FROM (SELECT s.id, ({first} + s.n) * {per_thing} + g AS k"
        f" FROM {IDS} s, generate_series(0, {per_thing - 1}) g"
        f" WHERE s.n % {jobs} = {job}) q"
    )


def reading_sql(k: int, per_thing: int, count: int, now: datetime, chart: tuple[int, list[int]] | None) -> str:
    """Round k of the readings over the year before `now`: the k-th slice of the year, in which every thing sends
    one reading (at its own offset in the slice). `chart`: (thing id, minutes since the year's start of its
    readings); those in this slice are spread evenly among the round's rows, where a device's rows would sit."""
    year = 365 * 24 * 60
    step = year // per_thing
    start = now - timedelta(minutes=year)
    base = k * step
    end = year if k == per_thing - 1 else base + step
    columns = "twin_id, value, time, kind, unit, source, note, created_at, device_signed, device_key, signature"
    constants = f"'temp', '°C', 'api', '', '{now.isoformat()}', false, '', ''"
    things = (
        f"SELECT s.id, s.n::float8 AS pos, 20 + ((s.n + {k}) % 97) / 10.0 AS value,"
        f" '{start.isoformat()}'::timestamptz + interval '1 minute' * ({base} + (s.n * 7919) % {step}) AS time"
        f" FROM {IDS} s"
    )
    minutes = [m for m in chart[1] if base <= m < end] if chart else []
    if not minutes:
        return f"INSERT INTO twins_reading ({columns}) SELECT id, value, time, {constants} FROM ({things}) r"
    spread = count / len(minutes)
    return (
        f"INSERT INTO twins_reading ({columns}) SELECT id, value, time, {constants} FROM ("
        f"{things} UNION ALL SELECT {chart[0]}, (m - {minutes[0]}) * {spread} - 0.5, 20 + (m % 97) / 10.0,"
        f" '{start.isoformat()}'::timestamptz + interval '1 minute' * m"
        f" FROM generate_series({minutes[0]}, {minutes[-1]}) m) r ORDER BY pos"
    )


def run_sql(dsn: str, statements: Iterator[str]) -> None:
    """Each statement in its own transaction, on a connection of its own."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def copy_lines(dsn: str, table: str, columns: str, lines: Iterator[str]) -> int:
    """COPY the lines into `table` on a connection of its own, in chunks; the number of rows."""
    import psycopg

    rows = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            chunk: list[str] = []
            for line in lines:
                chunk.append(line)
                if len(chunk) >= 20_000:
                    copy.write("".join(chunk))
                    rows += len(chunk)
                    chunk.clear()
            if chunk:
                copy.write("".join(chunk))
                rows += len(chunk)
    return rows


def in_parallel(jobs: int, work: Callable[[int, int], None]) -> None:
    """work(job, jobs) in `jobs` forked processes (each COPY its own connection: PostgreSQL then uses the cores
    the generating Python leaves)."""
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=work, args=(job, jobs)) for job in range(jobs)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [p.exitcode for p in processes if p.exitcode]
    if failed:
        raise SystemExit(f"a loading process failed (exit codes {failed})")


# --- the database ------------------------------------------------------------------------------------------------


def sql(statement: str, params: list | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else []


def autocommit_sql(*statements: str) -> None:
    """Statements outside a transaction (ANALYZE, index builds with this session's maintenance memory)."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    raw.autocommit = True
    with raw.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for statement in statements:
            cursor.execute(statement)


@dataclass
class Dropped:
    """What the load dropped from the loaded tables, to build again after it: secondary indexes, unique
    constraints (their indexes) and foreign keys, each by its own definition from the catalog."""

    indexes: list[str]
    constraints: list[tuple[str, str, str]]  # table, name, definition


def drop_for_load() -> Dropped:
    tables = list(LOADED)
    indexes = [
        row[0]
        for row in sql(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE t.relname = ANY(%s) AND NOT i.indisprimary"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [tables],
        )
    ]
    constraints = sql(
        "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
        " JOIN pg_class t ON t.oid = c.conrelid"
        " WHERE t.relname = ANY(%s) AND c.contype IN ('u', 'f') AND c.conparentid = 0",
        [tables],
    )
    names = sql(
        "SELECT ic.relname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ic"
        " ON ic.oid = i.indexrelid WHERE t.relname = ANY(%s) AND NOT i.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [tables],
    )
    for table, name, _definition in constraints:
        sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for (name,) in names:
        sql(f'DROP INDEX IF EXISTS "{name}"')
    return Dropped(indexes=indexes, constraints=[tuple(c) for c in constraints])


def build_after_load(dropped: Dropped) -> None:
    # A partitioned table's index reads "ON ONLY" (that parent alone): built here on every partition.
    statements = [definition.replace(" ON ONLY ", " ON ", 1) for definition in dropped.indexes]
    # Unique constraints first (their indexes), foreign keys last (validated by one join each).
    for table, name, definition in sorted(dropped.constraints, key=lambda c: c[2].startswith("FOREIGN")):
        statements.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    autocommit_sql(*statements)


# --- seeding and loading -------------------------------------------------------------------------------------------


@dataclass
class Probes:
    owner_id: int
    chart_id: int
    chart_slug: str
    chart_minutes: list[int]  # minutes since the loaded year's start
    token: str
    source_public_id: str
    secret: str
    feed_twin_id: int
    now: datetime


def seed(now: datetime) -> Probes:
    from ingest import services as ingest_services
    from owners.models import Owner
    from tags.models import Tag
    from twins import services as twin_services
    from twins.partitions import ensure_reading_partitions

    ensure_reading_partitions(since=(now - timedelta(days=366)).date())  # the loaded year's months
    owner = Owner.objects.create_user("bench", "bench@example.org", "bench-password-1")
    chart = twin_services.twin_create(owner=owner, name="Chart meter", reading_kind="temp", reading_unit="°C")
    tag = Tag.objects.create(twin=chart)
    kettle = twin_services.twin_create(owner=owner, name="Kettle", reading_kind="temp", reading_unit="°C")
    fridge = twin_services.twin_create(owner=owner, name="Fridge", reading_kind="temp", reading_unit="°C")
    source, secret = ingest_services.source_create(owner=owner, name="Bench", rate_limit="1000000000/60")
    ingest_services.source_link_thing(source=source, twin=kettle, external_id="k")
    ingest_services.source_link_thing(source=source, twin=fridge, external_id="f")
    year = 365 * 24 * 60
    chart_minutes = list(range(year - CHART_DAYS * 24 * 60, year))
    return Probes(
        owner_id=owner.pk,
        chart_id=chart.pk,
        chart_slug=chart.slug,
        chart_minutes=chart_minutes,
        token=tag.token,
        source_public_id=source.public_id,
        secret=secret,
        feed_twin_id=kettle.pk,
        now=now,
    )


def load(
    dsn: str, probes: Probes, *, owner_ids: list[int], first: int, sizes: Sizes, jobs: int, chart: bool
) -> dict[str, float]:
    """Things for `owner_ids` (one id per thing, numbered from `first`) by COPY, then their tags and readings (and
    the chart's readings into that stream when `chart`) generated by the server in `jobs` sessions; seconds each."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    copy_lines(dsn, "twins_twin", TWIN_COLUMNS, twin_lines(owner_ids, first, probes.now))
    timings["things"] = time.perf_counter() - started
    run_sql(
        dsn,
        iter(
            [
                f"DROP TABLE IF EXISTS {IDS}",
                f"CREATE UNLOGGED TABLE {IDS} AS SELECT (row_number() OVER (ORDER BY id) - 1)::bigint AS n, id"
                f" FROM twins_twin WHERE slug >= 's{first:08d}' AND slug < 's{first + len(owner_ids):08d}'"
                " AND slug LIKE '%scale'",
                f"ANALYZE {IDS}",
            ]
        ),
    )
    count = int(srv.psql(f"SELECT count(*) FROM {IDS}", dsn.rsplit("/", 1)[1]))
    if count != len(owner_ids):
        raise SystemExit(f"loaded {count} things, expected {len(owner_ids)}")

    def tags(job: int, jobs: int) -> None:
        run_sql(dsn, iter([tag_sql(sizes.tags_per_thing, first, job, jobs, probes.now)]))

    started = time.perf_counter()
    in_parallel(jobs, tags)
    timings["tags"] = time.perf_counter() - started
    chart_of = (probes.chart_id, probes.chart_minutes) if chart else None

    def readings(job: int, jobs: int) -> None:
        rounds = range(job, sizes.readings_per_thing, jobs)
        run_sql(dsn, (reading_sql(k, sizes.readings_per_thing, count, probes.now, chart_of) for k in rounds))

    started = time.perf_counter()
    in_parallel(jobs, readings)
    timings["readings"] = time.perf_counter() - started
    run_sql(dsn, iter([f"DROP TABLE {IDS}"]))
    return timings


def create_owners(count: int) -> list[int]:
    """`count` owners by COPY (no usable password: they never sign in here); their ids."""
    from django.db import connection

    stamp = datetime.now(UTC).isoformat()
    lines = "".join(f"!\tf\tscale{n:06d}\t\t\t\tf\tt\t{stamp}\t\t\t\t\tf\tf\tf\tf\tUTC\n" for n in range(count))
    connection.ensure_connection()
    columns = (
        "password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined,"
        " contact_name, contact_email, contact_phone, contact_message, show_name, show_email, show_phone,"
        " show_message, time_zone"
    )
    with connection.connection.cursor() as cursor, cursor.copy(f"COPY owners_owner ({columns}) FROM STDIN") as copy:
        copy.write(lines)
    return [row[0] for row in sql("SELECT id FROM owners_owner WHERE username LIKE %s ORDER BY id", ["scale%"])]


# --- measures ------------------------------------------------------------------------------------------------------


@dataclass
class Figure:
    p50: float
    p95: float
    queries: int | None = None
    unit: str = "ms"


def cases(probes: Probes) -> list[tuple[str, object, str]]:
    """(label, client, url) of the request measures: the owner's client logged in, the finder's anonymous."""
    from django.test import Client

    from owners.models import Owner
    from twins.models import Twin
    from twins.selectors import Cursor

    owner = Owner.objects.get(pk=probes.owner_id)
    client = Client()
    client.force_login(owner)
    finder = Client()
    mine = Twin.objects.filter(owner=owner, archived_at=None)
    total = mine.count()
    deep = mine.order_by("name", "id")[int(total * 0.9)]
    cursor = Cursor.of(deep, "name").encode()
    # The filter's deep page from 90 % of the filtered list (of all things, the nearly empty database's page after
    # it held no red thing: an empty page, one query fewer, against a full page at 1M).
    red = mine.filter(attributes__contains={"colour": "red"}).order_by("name", "id")
    red_cursor = Cursor.of(red[int(red.count() * 0.9)], "name").encode()
    end = probes.now
    start = end - timedelta(days=CHART_DAYS)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    chart_url = (
        f"/api/things/{probes.chart_slug}/readings/series?from={start.strftime(fmt)}&to={end.strftime(fmt)}&buckets=200"
    )
    return [
        ("tag scan (finder)", finder, f"/t/{probes.token}"),
        ("tag scan (owner)", client, f"/t/{probes.token}"),
        ("cards: first page", client, "/things/"),
        ("cards: deep page (90%)", client, f"/things/?cursor={cursor}"),
        ("api: attr colour=red", client, "/api/things/?cursor=&attr=colour%3Dred"),
        ("api: attr colour=red, deep", client, f"/api/things/?cursor={red_cursor}&attr=colour%3Dred"),
        (CHART, client, chart_url),
    ]


CHART = "chart: 30 days, min/avg/max"


def measure(probes: Probes, gateway_port: int, dsn: str, seconds: float) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}
    for label, who, url in cases(probes):
        p50, p95, queries = cards.timed(who, url)
        figures[label] = Figure(p50, p95, queries)
    rates, floors = [], []
    floor = bench_ingest.CopyFloor(dsn.replace("postgres://", "postgresql://"), probes.feed_twin_id)
    try:
        for round_ in range(3):
            floors.append(floor.rows_per_second())
            rate, _count = bench_ingest.batch_load(
                gateway_port, probes.source_public_id, probes.secret, seconds / 3, f"scale{time.time_ns()}-{round_}"
            )
            rates.append(rate)
    finally:
        floor.close()
    vacuum_written(probes.now)
    # Per 1,000 readings, so that larger is slower like the latencies (and ratios read the same way).
    figures["batch ingestion (1,000 readings)"] = Figure(
        1000 / statistics.median(rates) * 1000, 1000 / min(rates) * 1000, None, "ms"
    )
    figures["COPY floor (1,000 rows)"] = Figure(1000 / statistics.median(floors) * 1000, 1000 / min(floors) * 1000)
    return figures


def vacuum_written(now: datetime) -> None:
    """VACUUM (ANALYZE) the partitions the ingestion measure wrote to and the COPY floor deleted from (its rows,
    a day or so old): in production autovacuum does this within a minute of so many dead rows. Without it the next
    measures read a partition grown with dead rows (the nearly empty database's current month held 8,500 pages
    for 42,000 live rows after two passes) and planned on stale counts (JIT compiling a 43,200-row chart)."""
    from twins.partitions import is_partitioned, month_start, partition_name

    if not is_partitioned():
        autocommit_sql("VACUUM (ANALYZE) twins_reading")
        return
    months = sorted({month_start(now - timedelta(days=days)) for days in (0, 2)})
    autocommit_sql(*(f"VACUUM (ANALYZE) {partition_name(month)}" for month in months))


def checks(probes: Probes) -> dict[str, object]:
    """What makes the measures right, from one request each: the queries of the paged views (their number, and
    whether any pages by OFFSET instead of a keyset) and the plan of the chart's query (EXPLAIN ANALYZE, BUFFERS:
    which monthly partitions it reads)."""
    from django.db import connection

    found: dict[str, object] = {}
    for label, who, url in cases(probes):
        statements: list[tuple[float, str, object]] = []

        def keep(execute, sql, params, many, context, statements=statements):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                statements.append(((time.perf_counter() - started) * 1000, sql, params))

        with connection.execute_wrapper(keep):
            response = who.get(url)
        assert response.status_code == 200, (url, response.status_code)
        offsets = sum(" OFFSET " in sql.upper() for _ms, sql, _params in statements)
        found[label] = {"queries": len(statements), "offset": offsets}
        if label == CHART:
            _ms, sql, params = max(statements, key=lambda s: s[0])
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                found["chart plan"] = [row[0] for row in cursor.fetchall()]
    found["scans recorded"] = scans_recorded(probes)
    return found


def scans_recorded(probes: Probes) -> dict[str, int]:
    """A finder's view is recorded: with Redis it is buffered there, and the flush (the task worker's job, run here
    in this process) makes it a Scan row. The buffered views, and the Scan rows the probe tag gained."""
    from django.test import Client

    from tags.models import Scan
    from tags.scan_buffer import flush_scan_buffer

    flush_scan_buffer.call()  # what earlier runs left in this Redis database
    before = Scan.objects.filter(tag__token=probes.token).count()
    views = 3
    for _ in range(views):
        assert Client().get(f"/t/{probes.token}").status_code == 200
    moved = flush_scan_buffer.call()
    return {"views": views, "moved": moved, "rows": Scan.objects.filter(tag__token=probes.token).count() - before}


def report(empty: dict[str, Figure], full: dict[str, Figure]) -> bool:
    head = f"{'empty p50':>9} {'p95':>7} {'full p50':>9} {'p95':>7} {'p50 x':>6} {'p95 x':>6}"
    print(f"\n{'measure':<34} {head}  queries")
    met = True
    for label, e in empty.items():
        f = full[label]
        r50, r95 = f.p50 / e.p50, f.p95 / e.p95
        ok = r50 <= TARGET
        met = met and ok
        queries = "" if e.queries is None else f"{e.queries} → {f.queries}"
        print(
            f"{label:<34} {e.p50:>9.2f} {e.p95:>7.2f} {f.p50:>9.2f} {f.p95:>7.2f} {r50:>5.2f}x {r95:>5.2f}x"
            f"  {queries}{'' if ok else '  (over 2x)'}"
        )
    print(f"(ms per request, or per 1,000 readings; target: full / empty ≤ {TARGET:.0f}x at the median)")
    return met


def print_checks(name: str, found: dict[str, object]) -> None:
    paged = ", ".join(
        f"{label} {check['queries']} queries{' (OFFSET!)' if check['offset'] else ''}"
        for label, check in found.items()
        if label not in ("chart plan", "scans recorded")
    )
    print(f"{name}: {paged}")
    scans = found["scans recorded"]
    print(
        f"{name}: scans recorded: {scans['views']} finder views, {scans['moved']} moved from the Redis buffer by the"
        f" flush, {scans['rows']} new Scan rows{'' if scans['rows'] == scans['views'] else '  (NOT ALL RECORDED)'}"
    )
    print(f"{name}: the chart's slowest query, EXPLAIN (ANALYZE, BUFFERS):")
    for line in found["chart plan"]:
        print(f"    {line}")


# --- the phases ----------------------------------------------------------------------------------------------------


def make_nearly_empty(dsn: str, things: int = EMPTY_THINGS) -> Probes:
    """Migrate a new database, seed the probes and load the nearly empty phase's rows (`things` things of the big
    owner with their tags and readings, the chart's month); ANALYZE."""
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    probes = seed(now)
    connection.close()  # the forked loaders must not share this connection
    load(dsn, probes, owner_ids=[probes.owner_id] * things, first=0, sizes=Sizes.at(0.01), jobs=1, chart=True)
    autocommit_sql("ANALYZE")
    return probes


def find_probes() -> Probes:
    """The probes seed() made, found again in a kept database. The ingest source gets a new secret, sealed under
    this run's KEY_ENCRYPTION_KEY (every run draws its own keys); `now` is the minute after the chart's last reading,
    so the chart covers the same 30 days it was loaded with."""
    from django.db.models import Max

    from ingest import services as ingest_services
    from ingest.models import Source
    from owners.models import Owner
    from tags.models import Tag
    from twins.models import Reading, Twin

    owner = Owner.objects.get(username="bench")
    chart = Twin.objects.get(owner=owner, name="Chart meter")
    kettle = Twin.objects.get(owner=owner, name="Kettle")
    tag = Tag.objects.filter(twin=chart).order_by("pk").first()
    source, secret = ingest_services.source_rotate_secret(
        source=Source.objects.get(owner=owner, name="Bench"), overlap=timedelta(0)
    )
    last = Reading.objects.filter(twin=chart).aggregate(last=Max("time"))["last"]
    return Probes(
        owner_id=owner.pk,
        chart_id=chart.pk,
        chart_slug=chart.slug,
        chart_minutes=[],
        token=tag.token,
        source_public_id=source.public_id,
        secret=secret,
        feed_twin_id=kettle.pk,
        now=last + timedelta(minutes=1),
    )


# A kept database keeps the settings its keys were sealed under (each run draws a SECRET_KEY and KEY_ENCRYPTION_KEY
# of its own: the twins' agent keys and the ingest source's secret would not open under the next run's). Generated,
# throwaway keys of a bench database of generated rows, next to those rows.
KEYS_TABLE = "scale_bench_keys"
KEYS = ("SECRET_KEY", "KEY_ENCRYPTION_KEY")


def stored_keys(db: str) -> dict[str, str]:
    if srv.psql(f"SELECT to_regclass('{KEYS_TABLE}') IS NOT NULL", db) != "t":
        return {}
    rows = srv.psql(f"SELECT name || E'\\t' || value FROM {KEYS_TABLE}", db)
    return dict(line.split("\t", 1) for line in rows.splitlines() if "\t" in line)


def store_keys(db: str, env: dict[str, str]) -> None:
    values = ", ".join(f"('{name}', '{env[name]}')" for name in KEYS)
    srv.psql(
        f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (name text PRIMARY KEY, value text NOT NULL);"
        f" INSERT INTO {KEYS_TABLE} VALUES {values} ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
        db,
    )


def rekey_feed_things(probes: Probes) -> None:
    """For a database kept before its keys were: the two things the batches feed get new agent keys, sealed under
    this run's key (the batches sign their history entries with them); nothing else measured opens a sealed key."""
    from core.vault import seal_key
    from ssi.keys import SigningKey
    from twins.models import Twin

    for twin in Twin.objects.filter(owner_id=probes.owner_id, name__in=["Kettle", "Fridge"]):
        Twin.objects.filter(pk=twin.pk).update(agent_key_sealed=seal_key(SigningKey.generate()))


def bench_env(db: str, redis_db: int | None = None) -> dict[str, str]:
    extra = {} if redis_db is None else {"REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}"}
    return srv.production_env(
        db=db,
        port=8000,
        ALLOWED_HOSTS="testserver,127.0.0.1",
        RATE_SCAN_PER_CLIENT="1000000000/60",
        RATE_API_PER_USER="1000000000/60",
        **extra,
    )


def start_gateway(env: dict[str, str]) -> tuple[object, int]:
    port = srv.free_port()
    gateway = srv.serve([srv.PYTHON, "manage.py", "ingest_gateway", "--port", str(port), "--workers", "2"], env)
    srv.wait_for(f"http://127.0.0.1:{port}/healthz", gateway)
    srv.settle([gateway])
    return gateway, port


def database_exists(db: str) -> bool:
    return srv.psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'") == "1"


def scale_db(name: str) -> str:
    """Only databases named scale_* (this bench drops and creates them)."""
    if not name.startswith("scale_") or not name.replace("_", "").isalnum():
        raise SystemExit(f"database names here start with scale_ (letters, digits, _): {name!r}")
    return name


def full_run(args: argparse.Namespace) -> int:
    """Create, measure nearly empty, load, measure full, in one process (the bench as `make bench` runs it)."""
    sizes = Sizes.at(args.scale)
    estimate = sizes.estimate_bytes()
    free = shutil.disk_usage("/var/lib/postgresql" if Path("/var/lib/postgresql").exists() else "/").free
    print(
        f"sizes: {sizes.owners:,} owners, {sizes.things:,} things (the big owner {sizes.big:,}),"
        f" {sizes.things * sizes.tags_per_thing:,} tags, {sizes.things * sizes.readings_per_thing:,} readings;"
        f" estimated {estimate / 1e9:.1f} GB, {free / 1e9:.0f} GB free"
    )
    if estimate > args.max_gb * 1e9 or estimate > free - 10e9:
        raise SystemExit(f"refused: the estimate exceeds --max-gb {args.max_gb:g} or leaves under 10 GB free")

    db = scale_db(args.db or f"scale_{os.getpid()}")
    env = bench_env(db)
    dsn = env["DATABASE_URL"]
    srv.psql(f"CREATE DATABASE {db}")
    store_keys(db, env)
    gateway = None
    try:
        os.environ.clear()
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connection

        probes = make_nearly_empty(dsn)
        gateway, gateway_port = start_gateway(env)
        print(f"nearly empty: {int(sql('SELECT count(*) FROM twins_reading')[0][0]):,} readings; measuring")
        # A first pass, not counted: a process's first pass over these requests ran up to 2x slower than a second
        # (seen at --scale 0.001, where the two phases' databases barely differ), which flattered every ratio.
        measure(probes, gateway_port, dsn, args.seconds / 3)
        empty = measure(probes, gateway_port, dsn, args.seconds)
        print_checks("nearly empty", checks(probes))

        # The load: drop what slows COPY, load, build it again, ANALYZE.
        print(f"loading (load average {srv.load_average():.1f})", flush=True)
        started = time.perf_counter()
        others = create_owners(sizes.owners - 1)
        big_more = max(0, sizes.big - EMPTY_THINGS - 3)
        rest = sizes.things - EMPTY_THINGS - big_more
        owner_ids = [probes.owner_id] * big_more + [others[n % len(others)] for n in range(rest)]
        dropped = drop_for_load()
        # The chart's readings leave the table and come back inside the stream (where a device's rows would be).
        sql("DELETE FROM twins_reading WHERE twin_id = %s", [probes.chart_id])
        connection.close()
        timings = load(dsn, probes, owner_ids=owner_ids, first=EMPTY_THINGS, sizes=sizes, jobs=args.jobs, chart=True)
        started_build = time.perf_counter()
        build_after_load(dropped)
        timings["indexes and keys"] = time.perf_counter() - started_build
        started_analyze = time.perf_counter()
        autocommit_sql("ANALYZE")
        timings["ANALYZE"] = time.perf_counter() - started_analyze
        load_seconds = time.perf_counter() - started
        counts = sql(
            "SELECT (SELECT count(*) FROM twins_twin), (SELECT count(*) FROM tags_tag),"
            " (SELECT count(*) FROM twins_reading), (SELECT count(*) FROM twins_twin WHERE owner_id = %s),"
            " pg_database_size(current_database()), pg_total_relation_size('twins_twin'),"
            " pg_total_relation_size('tags_tag'),"
            " (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits"
            "  WHERE inhparent = 'twins_reading'::regclass)::bigint",
            [probes.owner_id],
        )[0]
        things, tags, readings, big, size, things_bytes, tags_bytes, readings_bytes = counts
        print(
            f"loaded in {load_seconds:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())}):"
            f" {things:,} things ({big:,} of the big owner), {tags:,} tags, {readings:,} readings;"
            f" database {size / 1e9:.1f} GB (things {things_bytes / 1e9:.2f}, tags {tags_bytes / 1e9:.2f},"
            f" readings {readings_bytes / 1e9:.2f}); per row: thing {things_bytes / things:.0f} B,"
            f" tag {tags_bytes / tags:.0f} B, reading {readings_bytes / readings:.0f} B"
        )
        print(f"full: measuring (load average {srv.load_average():.1f})", flush=True)
        full = measure(probes, gateway_port, dsn, args.seconds)
        print_checks("full", checks(probes))
        met = report(empty, full)
        print(f"load average at the end {srv.load_average():.1f} ({os.cpu_count()} CPUs; other work shares them)")
        if args.keep:
            print(f"kept: {db}; measure it again with `python bench/scale.py --measure-only --db {db}`")
        return 0 if met else 1
    finally:
        if gateway is not None:
            srv.stop(gateway)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            srv.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


# --- measure-only: a kept full database and a nearly empty one, alternately ------------------------------------------

PROTOCOL = "scale-json "


def send(message: dict) -> None:
    print(PROTOCOL + json.dumps(message), flush=True)


def worker(args: argparse.Namespace) -> int:
    """One database's side of --measure-only, in a process of its own (Django set up for that database, its own
    gateway and Redis database): makes the nearly empty database when `--create` finds none, finds the probes,
    says it is ready (with its counts and checks), then measures each time the parent asks (JSON lines)."""
    db = scale_db(args.db)
    env = bench_env(db, args.redis_db)
    dsn = env["DATABASE_URL"]
    create = args.create and not database_exists(db)
    if create:
        srv.psql(f"CREATE DATABASE {db}")
    keys = {} if create else stored_keys(db)
    env.update(keys)
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from twins.partitions import ensure_reading_partitions

    gateway = None
    try:
        started = time.perf_counter()
        if create:
            make_nearly_empty(dsn, things=MEASURE_EMPTY_THINGS)
        else:
            call_command("migrate", verbosity=0)  # a kept database catches up with the code's migrations
        ensure_reading_partitions()  # this month's batches land in their own partition, not in the DEFAULT one
        prepared = time.perf_counter() - started
        probes = find_probes()
        if not create and not keys:
            rekey_feed_things(probes)
            print(f"{db}: kept without its keys; the fed things have new agent keys", file=sys.stderr)
        if not keys:
            store_keys(db, env)
        gateway, port = start_gateway(env)
        things, readings, size = sql(
            "SELECT (SELECT count(*) FROM twins_twin), coalesce((SELECT sum(reltuples)::bigint FROM pg_class c"
            " JOIN pg_inherits i ON i.inhrelid = c.oid WHERE i.inhparent = 'twins_reading'::regclass),"
            " (SELECT reltuples::bigint FROM pg_class WHERE relname = 'twins_reading')),"
            " pg_database_size(current_database())"
        )[0]
        send(
            {
                "db": db,
                "created": create,
                "prepared": prepared,
                "things": things,
                "readings": int(readings),
                "bytes": size,
                "checks": checks(probes),
            }
        )
        for line in sys.stdin:
            command = json.loads(line)
            if command["do"] != "measure":
                break
            cards.REPEAT = command["repeat"]
            figures = measure(probes, port, dsn, command["seconds"])
            send({name: vars(figure) for name, figure in figures.items()})
        return 0
    finally:
        if gateway is not None:
            srv.stop(gateway)
        from django.db import connections

        connections.close_all()


class Worker:
    """The parent's handle on a worker process."""

    def __init__(self, db: str, *, create: bool, redis_db: int) -> None:
        command = [srv.PYTHON, __file__, "--worker", "--db", db, "--redis-db", str(redis_db)]
        self.db = db
        self.process = subprocess.Popen(
            [*command, "--create"] if create else command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def receive(self) -> dict:
        for line in self.process.stdout:
            if line.startswith(PROTOCOL):
                return json.loads(line[len(PROTOCOL) :])
            print(f"[{self.db}] {line}", end="")
        raise SystemExit(f"the worker for {self.db} ended (exit code {self.process.wait()}); its errors are above")

    def measure(self, seconds: float, repeat: int) -> dict[str, Figure]:
        self.process.stdin.write(json.dumps({"do": "measure", "seconds": seconds, "repeat": repeat}) + "\n")
        self.process.stdin.flush()
        return {name: Figure(**figure) for name, figure in self.receive().items()}

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"do": "quit"}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.terminate()
                self.process.wait(timeout=30)


def report_rounds(rounds: list[dict[str, dict[str, Figure]]]) -> bool:
    """Each measure's median p50 on both databases and the median of its per-round ratios (full / empty, the two
    measured minutes apart at most)."""
    print(f"\n{'measure':<34} {'empty p50':>9} {'full p50':>9} {'full/empty':>10}  {'rounds':<22}  queries")
    met = True
    for label in rounds[0]["empty"]:
        empty = [r["empty"][label] for r in rounds]
        full = [r["full"][label] for r in rounds]
        ratios = sorted(f.p50 / e.p50 for e, f in zip(empty, full, strict=True))
        ratio = statistics.median(ratios)
        ok = ratio <= TARGET
        met = met and ok
        queries = "" if empty[0].queries is None else f"{empty[0].queries} → {full[0].queries}"
        spread = f"{ratios[0]:.2f}–{ratios[-1]:.2f}x"
        middle = statistics.median(e.p50 for e in empty), statistics.median(f.p50 for f in full)
        print(
            f"{label:<34} {middle[0]:>9.2f} {middle[1]:>9.2f} {ratio:>9.2f}x  {spread:<22}"
            f"  {queries}{'' if ok else '  (over 2x)'}"
        )
    print(
        f"(ms per request, or per 1,000 readings; full / empty is the median over {len(rounds)} rounds of the ratio"
        f" within each round; target ≤ {TARGET:.0f}x)"
    )
    return met


def measure_only(args: argparse.Namespace) -> int:
    """A kept full database (`--db`) and a nearly empty one (`--empty-db`, made when missing and kept) measured in
    alternate rounds (empty, full; full, empty; ...), so both meet the same minutes of a shared machine's load."""
    started = time.monotonic()
    full_db, empty_db = scale_db(args.db), scale_db(args.empty_db)
    if not database_exists(full_db):
        raise SystemExit(f"no database {full_db}: load one first with `python bench/scale.py --scale 1 --keep`")
    if args.rebuild_empty:
        srv.psql(f"DROP DATABASE IF EXISTS {empty_db} WITH (FORCE)")
    print(f"measure-only: {full_db} against {empty_db}, {args.rounds} rounds (load average {srv.load_average():.1f})")
    workers = {
        "empty": Worker(empty_db, create=True, redis_db=10),
        "full": Worker(full_db, create=False, redis_db=11),
    }
    try:
        for name, worker_ in workers.items():
            ready = worker_.receive()
            print(
                f"{name}: {ready['db']}{' (made now)' if ready['created'] else ''}, {ready['things']:,} things,"
                f" ~{ready['readings']:,} readings, {ready['bytes'] / 1e9:.2f} GB; ready in"
                f" {ready['prepared']:.0f} s of migrating/making"
            )
            print_checks(name, ready["checks"])
        print(f"first pass, not counted (load average {srv.load_average():.1f})", flush=True)
        for worker_ in workers.values():
            worker_.measure(args.seconds / 3, 3)
        rounds = []
        for n in range(args.rounds):
            order = ["empty", "full"] if n % 2 == 0 else ["full", "empty"]
            figures = {name: workers[name].measure(args.seconds, args.repeat) for name in order}
            rounds.append(figures)
            ratios = ", ".join(
                f"{label.split(':')[0].split(' (')[0]} {figures['full'][label].p50 / figures['empty'][label].p50:.2f}x"
                for label in (CHART, "cards: first page", "batch ingestion (1,000 readings)")
            )
            print(f"round {n + 1}/{args.rounds} ({' then '.join(order)}): {ratios}; load {srv.load_average():.1f}")
        met = report_rounds(rounds)
    finally:
        for worker_ in workers.values():
            worker_.close()
    print(
        f"measure-only took {(time.monotonic() - started) / 60:.1f} minutes; load average at the end"
        f" {srv.load_average():.1f} ({os.cpu_count()} CPUs; other work shares them)"
    )
    return 0 if met else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=float(os.environ.get("BENCH_SCALE", "0.01")),
        help="multiplies every size: 1 is the million things (about an hour here, ~30 GB); default BENCH_SCALE or"
        " 0.01 (what `make bench` runs: a couple of minutes)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--db", default="", help="database name, scale_* (default scale_<pid>)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel COPY streams (default 2)")
    parser.add_argument("--max-gb", type=float, default=40.0, help="refuse above this estimated size (default 40)")
    parser.add_argument("--seconds", type=float, default=9.0, help="seconds of batch ingestion per phase or round")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="measure the kept database --db against a nearly empty one (--empty-db) in alternate rounds",
    )
    parser.add_argument("--empty-db", default="scale_empty", help="--measure-only's nearly empty database (kept)")
    parser.add_argument("--rebuild-empty", action="store_true", help="--measure-only: make --empty-db afresh")
    parser.add_argument("--rounds", type=int, default=5, help="--measure-only's rounds (default 5)")
    parser.add_argument("--repeat", type=int, default=15, help="--measure-only: requests per measure a round")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--create", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--redis-db", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.measure_only:
        if not args.db:
            parser.error("--measure-only needs --db (the kept database)")
        if args.rounds < 1 or args.repeat < 2:
            parser.error("--rounds must be 1 or more and --repeat 2 or more")
        return measure_only(args)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    return full_run(args)


if __name__ == "__main__":
    sys.exit(main())
