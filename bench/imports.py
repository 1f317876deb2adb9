"""Benchmark: importing things from a CSV file (imports.services), 10,000 and 100,000 rows.

Run from the repo root: ``python bench/imports.py [--rows 10000,100000] [--db sqlite|postgres]``.

For each size, a child process on a fresh, migrated database (a SQLite file, or a new PostgreSQL database with
``--db postgres``) writes a CSV of that many rows to disk (name, model, serial, external id, two attributes), then
times the upload with its dry run (``import_upload``: the file kept in chunks, every row checked) and the
confirmed import (``import_confirm`` then ``import_apply``, inline here; the task worker in production), and the
floor: a bare ``bulk_create`` of the same twin rows (no DID, no history, no credential) in the same process. It
prints each phase's time, the ratio to the floor, the per-row cost of each part of ``twin_create`` (the DID log's
inception, the signed history entry, the TwinCreated subscribers: the ownership credential; or, for a batch's plain
new things, the batch creation and the batch's credentials) and the child's peak
RSS, which stays flat if the file is streamed and not loaded whole.

``--profile FILE`` runs the confirmed import under cProfile (slower: compare its shares, not its times) and writes
its stats to ``FILE.<rows>`` (``python -m pstats FILE.10000``).

Targets (issue 16): 10,000 rows under 30 s, 100,000 under 5 minutes, memory flat.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _server as srv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="10000,100000")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--dry-run-only", action="store_true", help="time the upload and dry run only (no import)")
    ap.add_argument(
        "--profile", metavar="FILE", help="profile the confirmed import with cProfile; its stats go to FILE.<rows>"
    )
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    for count in [int(value) for value in args.rows.split(",")]:
        tmp = tempfile.mkdtemp(prefix="bench-imports-")
        pg_db = None
        if args.db == "postgres":
            pg_db = f"bench_imports_{os.getpid()}_{count}"
            srv.psql(f"CREATE DATABASE {pg_db}")
            url = srv.PG.format(user=srv.pg_user(), db=pg_db)
        else:
            url = f"sqlite:///{tmp}/bench.sqlite3"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "LOG_LEVEL": "WARNING",
            "BENCH_TMP": tmp,
            "BENCH_DRY_RUN_ONLY": "1" if args.dry_run_only else "",
            "BENCH_PROFILE": f"{os.path.abspath(args.profile)}.{count}" if args.profile else "",
        }
        try:
            subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
            subprocess.run([sys.executable, __file__, "--child", str(count)], cwd=ROOT, env=env, check=True)
        finally:
            if pg_db:
                srv.psql(f"DROP DATABASE IF EXISTS {pg_db}")
            shutil.rmtree(tmp, ignore_errors=True)  # the CSV and the SQLite file: 2.5 GB at 100,000 rows


def _write_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("name,model,serial,external id,colour,weight\n")
        for n in range(count):
            out.write(f"Cow {n},Holstein,C-{n:07d},herd-{n},black and white,{500 + n % 200}\n")


class Timer:
    """Seconds spent inside wrapped functions, by name (outermost call only per name)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.depth: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, func):
        def timed(*args, **kwargs):
            self.depth[name] += 1
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.depth[name] -= 1
                if not self.depth[name]:
                    self.spent[name] += time.perf_counter() - start

        return timed


def child(count: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, transaction

    # The test settings turn DEBUG on, which makes every cursor format and keep each query's SQL (for a bulk INSERT
    # of 500 rows, its whole text): a cost the task worker, with DEBUG off in production, never pays.
    settings.DEBUG = False

    import imports.services as import_services
    import twins.services as twin_services
    from imports import rows as import_rows
    from owners.models import Owner
    from twins import events
    from twins.models import Twin

    owner = Owner(username="bench-owner")
    owner.set_unusable_password()
    owner.save()
    path = Path(os.environ["BENCH_TMP"]) / "things.csv"
    _write_csv(path, count)

    timer = Timer()
    twin_services.twin_identity_create = timer.wrap(
        "DID inception (twin_identity_create)", twin_services.twin_identity_create
    )
    twin_services.history_append = timer.wrap("signed history entry (history_append)", twin_services.history_append)
    twin_services.twin_create = timer.wrap("twin_create (all of it)", twin_services.twin_create)
    import_services.twin_create = twin_services.twin_create
    # The batch path: a batch's plain new things made at once, and their ownership credentials issued at once.
    import_services.twins_create_many = timer.wrap(
        "batch of new things (twins_create_many)", import_services.twins_create_many
    )
    import_services.ownership_credentials_issue_new = timer.wrap(
        "their ownership credentials (ownership_credentials_issue_new)",
        import_services.ownership_credentials_issue_new,
    )
    import_services.plan_batch = timer.wrap("row checks (plan_batch)", import_rows.plan_batch)
    for handler in list(events._in_transaction.get(events.TwinCreated, [])):
        name = f"TwinCreated: {handler.__module__}.{handler.__name__}"
        events.unsubscribe(events.TwinCreated, handler)
        events.subscribe(events.TwinCreated, timer.wrap(name, handler), in_transaction=True)

    start, cpu_start = time.perf_counter(), time.process_time()
    with path.open("rb") as upload:
        run = import_services.import_upload(owner=owner, upload=upload, filename="things.csv")
    checked, checked_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    assert run.will_create == count, (run.status, run.message, run.will_create)
    timer.spent.pop("row checks (plan_batch)", 0.0)
    rss_after_check = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if os.environ.get("BENCH_DRY_RUN_ONLY"):
        print(f"\n{connection.vendor}, {count:,} rows ({path.stat().st_size / 1e6:.1f} MB CSV), dry run only")
        print(f"  upload + dry run: {checked:8.1f} s  ({checked / count * 1e3:.3f} ms/row; CPU {checked_cpu:.1f} s)")
        print(f"  peak RSS: {rss_after_check:.0f} MB")
        return

    start, cpu_start = time.perf_counter(), time.process_time()
    with transaction.atomic():
        import_services.ImportRun.objects.filter(pk=run.pk).update(status="queued")
    profile_path = os.environ.get("BENCH_PROFILE")
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        run = profiler.runcall(import_services.import_apply, run.pk)
        profiler.dump_stats(profile_path)
    else:
        run = import_services.import_apply(run.pk)
    applied, applied_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    assert (run.status, run.created) == ("done", count), (run.status, run.created, run.message)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # The floor: the same twin rows, bare.
    start, cpu_start = time.perf_counter(), time.process_time()
    batch = []
    for n in range(count):
        batch.append(
            Twin(
                owner=owner,
                name=f"Floor {n}",
                model_name="Holstein",
                serial=f"F-{n:07d}",
                attributes={"colour": "black and white", "weight": str(500 + n % 200)},
            )
        )
        if len(batch) == 500:
            Twin.objects.bulk_create(batch)
            batch = []
    if batch:
        Twin.objects.bulk_create(batch)
    floor, floor_cpu = time.perf_counter() - start, time.process_time() - cpu_start

    total = checked + applied
    print(f"\n{connection.vendor}, {count:,} rows ({path.stat().st_size / 1e6:.1f} MB CSV)")
    print(f"  upload + dry run:   {checked:8.1f} s  ({checked / count * 1e3:.2f} ms/row; CPU {checked_cpu:.1f} s)")
    print(f"  import (confirmed): {applied:8.1f} s  ({applied / count * 1e3:.2f} ms/row; CPU {applied_cpu:.1f} s)")
    print(f"  total:              {total:8.1f} s")
    print(f"  floor, bulk_create: {floor:8.1f} s  ({floor / count * 1e3:.3f} ms/row; CPU {floor_cpu:.1f} s)")
    print(f"  ratio import / floor: {applied / floor:.0f}x wall, {applied_cpu / floor_cpu:.0f}x CPU")
    print(f"  load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("  where the import's time goes (per row):")
    for name, seconds in sorted(timer.spent.items(), key=lambda item: -item[1]):
        print(f"    {name:55s} {seconds / count * 1e3:7.2f} ms  ({seconds / applied:5.1%})")
    print(f"  peak RSS: {rss:.0f} MB (after the dry run {rss_after_check:.0f} MB)")
    print(
        f"  target: {'under 30 s' if count <= 10_000 else 'under 5 min'}: {'met' if _met(count, total) else 'MISSED'}"
    )


def _met(count: int, seconds: float) -> bool:
    return seconds < (30 if count <= 10_000 else 300)


if __name__ == "__main__":
    main()
