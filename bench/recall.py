"""Recall fan-out benchmark: 100,000 affected things tell their owners, against a plain bulk insert of as many
inbox items in the same run.

Setup (not timed): a fresh database (a SQLite file in a temporary folder, or PostgreSQL when DATABASE_URL names
one: a database `bench_recall_<pid>` is created there and dropped at the end), migrated; one organisation with
one product model; BENCH_OWNERS owners (default 20,000) with BENCH_PER_OWNER things each (default 5), made with
bulk inserts (twins without keys or DID logs: the fan-out reads only their owner); one recall of the whole model.

Timed, interleaved over BENCH_ROUNDS rounds (default 3; each round deletes what the previous one wrote):
1. the fan-out as the task worker runs it (makers.recalls.recall_fan_out): the RecallNotice rows, one inbox item
   per thing, one email task per EMAIL_CHUNK owners (enqueued on the database task backend, as in production),
   the affected count; in one transaction;
2. the baselines: Notification.objects.bulk_create of the same number of inbox items (batches of 2,000), in one
   transaction; and the same rows through one executemany of a hand-written INSERT (the driver's floor for rows
   that come from Python).
Prints the best of each, the ratio, and the fan-out against its target (under 60 s for 100,000 things).

Run: `.venv/bin/python bench/recall.py` (SQLite), or with `DATABASE_URL=postgres://user@127.0.0.1:5432/postgres`
(PostgreSQL; the bench makes and drops its own database on that server).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OWNERS = int(os.environ.get("BENCH_OWNERS", "20000"))
PER_OWNER = int(os.environ.get("BENCH_PER_OWNER", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TARGET_SECONDS = 60.0


def _database() -> tuple[str, str | None]:
    """The DATABASE_URL the bench uses, and the PostgreSQL server URL to drop it from afterwards (or None)."""
    given = os.environ.get("DATABASE_URL", "")
    if given.startswith(("postgres://", "postgresql://")):
        import psycopg

        name = f"bench_recall_{os.getpid()}"
        with psycopg.connect(given, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(given)
        return urlunsplit(parts._replace(path=f"/{name}")), given
    folder = tempfile.mkdtemp(prefix="bench-recall-")
    return f"sqlite:///{folder}/bench.sqlite3", None


def _drop(url: str, server: str | None) -> None:
    if server is None:
        import shutil

        shutil.rmtree(Path(urlsplit(url).path).parent, ignore_errors=True)
        return
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup():
    from django.core.management import call_command
    from django.db import connection, transaction

    from makers.access import organisation_account_create
    from makers.models import ProducedThing, ProductModel, Recall
    from owners.models import Owner
    from twins.models import Twin

    call_command("migrate", verbosity=0)
    admin = Owner.objects.create(username="bench-admin", email="admin@example.org")
    organisation = organisation_account_create(slug="acme", name="Acme", admin=admin)
    model = ProductModel.objects.create(organisation=organisation, name="Grindmaster", gtin="09506000134352")
    with transaction.atomic():
        Owner.objects.bulk_create(
            [Owner(username=f"owner{i}", email=f"owner{i}@example.org") for i in range(OWNERS)], batch_size=2000
        )
        owner_ids = list(Owner.objects.filter(username__startswith="owner").values_list("id", flat=True))
        twins = [Twin(owner_id=owner_id, name=f"Grinder {n}") for owner_id in owner_ids for n in range(PER_OWNER)]
        Twin.objects.bulk_create(twins, batch_size=2000)
        twin_ids = list(Twin.objects.order_by("id").values_list("id", flat=True))
        ProducedThing.objects.bulk_create(
            [ProducedThing(twin_id=twin_id, model=model, serial=f"{i:08d}") for i, twin_id in enumerate(twin_ids)],
            batch_size=2000,
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # autovacuum is off here (FACTS): plans go wrong on young tables
    recall = Recall.objects.create(
        organisation=organisation, model=model, title="Burr may crack", text="Stop using it.", severity="critical"
    )
    return recall, twin_ids, owner_ids


def clear(recall) -> None:
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    from makers.models import RecallNotice
    from owners.models import Notification

    RecallNotice.objects.filter(recall=recall).delete()
    Notification.objects.all().delete()
    DBTaskResult.objects.all().delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # What the rounds before deleted leaves dead index entries that each insert would wade through.
            cursor.execute("VACUUM ANALYZE")


def fan_out(recall) -> float:
    from makers.recalls import recall_fan_out

    start = time.perf_counter()
    affected = recall_fan_out(recall.pk)
    elapsed = time.perf_counter() - start
    assert affected == OWNERS * PER_OWNER, affected
    return elapsed


def baseline(twin_ids: list[int], owner_of: dict[int, int]) -> float:
    from django.db import transaction
    from django.utils import timezone

    from owners.models import Notification

    now = timezone.now()
    start = time.perf_counter()
    with transaction.atomic():
        Notification.objects.bulk_create(
            [
                Notification(
                    owner_id=owner_of[twin_id],
                    twin_id=twin_id,
                    kind=Notification.Kind.RECALL,
                    title="Recall: Burr may crack",
                    body="Stop using it.",
                    action_url="/recalls/1/",
                    created_at=now,
                    updated_at=now,
                )
                for twin_id in twin_ids
            ],
            batch_size=2000,
        )
    return time.perf_counter() - start


def baseline_raw(twin_ids: list[int], owner_of: dict[int, int]) -> float:
    """The same rows through one executemany of a hand-written INSERT (no ORM): the driver's floor."""
    from django.db import connection, transaction
    from django.utils import timezone

    from owners.models import Notification

    now = timezone.now()
    table = Notification._meta.db_table
    sql = (
        f"INSERT INTO {table} (owner_id, twin_id, kind, title, body, sender_name, sender_contact, "
        "action_url, action_label, count, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, '', '', %s, '', 1, %s, %s)"
    )
    rows = [
        (owner_of[t], t, "recall", "Recall: Burr may crack", "Stop using it.", "/recalls/1/", now, now)
        for t in twin_ids
    ]
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return time.perf_counter() - start


def main() -> int:
    url, server = _database()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    try:
        import django

        django.setup()
        from django.db import connection

        from makers.models import RecallNotice
        from owners.models import Notification
        from twins.models import Twin

        t0 = time.perf_counter()
        recall, twin_ids, _ = setup()
        owner_of = dict(Twin.objects.values_list("id", "owner_id"))
        print(
            f"{connection.vendor}: {OWNERS:,} owners × {PER_OWNER} things = {len(twin_ids):,} affected "
            f"(setup {time.perf_counter() - t0:.1f} s, not timed)",
            flush=True,
        )
        ours: list[float] = []
        floor: list[float] = []
        raw: list[float] = []
        for round_ in range(ROUNDS):
            clear(recall)
            ours.append(fan_out(recall))
            notices, items = RecallNotice.objects.count(), Notification.objects.count()
            assert notices == items == len(twin_ids), (notices, items)
            clear(recall)
            floor.append(baseline(twin_ids, owner_of))
            clear(recall)
            raw.append(baseline_raw(twin_ids, owner_of))
            print(
                f"round {round_ + 1}: fan-out {ours[-1]:.2f} s, bulk_create {floor[-1]:.2f} s, "
                f"executemany {raw[-1]:.2f} s",
                flush=True,
            )
        best, base = min(ours), min(floor)
        verdict = "ok" if best < TARGET_SECONDS else "MISSED"
        print(f"fan-out of {len(twin_ids):,} things to {OWNERS:,} owners: {best:.2f} s", end=" ")
        print(f"(target < {TARGET_SECONDS:.0f} s: {verdict})")
        print(f"baseline bulk_create of {len(twin_ids):,} inbox items: {base:.2f} s")
        print(f"baseline executemany INSERT of {len(twin_ids):,} inbox items: {min(raw):.2f} s")
        print(f"ratio {best / base:.2f}x the bulk_create, {best / min(raw):.2f}x the executemany")
        connection.close()
        return 0 if best < TARGET_SECONDS else 1
    finally:
        _drop(url, server)


if __name__ == "__main__":
    sys.exit(main())
