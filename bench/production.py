"""Benchmark: producing twins in bulk (makers.production.produce) against one twin_create + tag_create per twin.

Run from the repo root: ``python bench/production.py [--count N] [--single M] [--db sqlite|postgres]``.

Makes a throwaway database (a SQLite file, or a fresh PostgreSQL database with ``--db postgres``), migrated, with
an organisation and a product model. Then, in the same run: M twins made one by one the way a person makes one
(``twins.services.twin_create`` and ``tags.services.tag_create`` by the organisation's account), and one batch of
N serials through ``produce`` (the API's path). Both send TwinCreated to every subscriber (the ownership
credential is issued in the creating transaction). Prints the per-twin times, the ratio, the batch's wall time
(it must fit in a request) and the shares the TwinCreated subscribers and the authenticity credentials (signed by
the organisation's DID in the batch's pass) take of it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _server as srv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--single", type=int, default=100)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-production-")
    pg_db = None
    if args.db == "postgres":
        pg_db = f"bench_production_{os.getpid()}"
        srv.psql(f"CREATE DATABASE {pg_db}")
        url = srv.PG.format(user=srv.pg_user(), db=pg_db)
    else:
        url = f"sqlite:///{tmp}/bench.sqlite3"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings_test", "LOG_LEVEL": "WARNING"}
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        os.environ.update(env)
        run(args)
    finally:
        if pg_db:
            from django.db import connections

            connections.close_all()
            srv.psql(f"DROP DATABASE IF EXISTS {pg_db}")


def run(args) -> None:
    import django

    django.setup()
    from django.db import connection, transaction

    from makers import orgs
    from makers.models import ProductModel
    from makers.production import produce
    from owners.models import Owner
    from tags.services import tag_create
    from twins import events
    from twins.services import twin_create

    admin = Owner(username="bench-admin")
    admin.set_unusable_password()
    admin.save()
    # With its did:webvh DID, as makers.orgs makes it: the DID signs each produced thing's authenticity credential.
    organisation = orgs.organisation_create(slug="bench", name="Bench Works", admin=admin)
    model = ProductModel.objects.create(organisation=organisation, name="Benchmark 1", gtin="09506000134352")
    account = organisation.account

    # Time spent in TwinCreated's in-transaction subscribers, measured around each handler.
    spent = [0.0]
    wrapped = []
    for handler in list(events._in_transaction.get(events.TwinCreated, [])):

        def timed(event, handler=handler):
            start = time.perf_counter()
            handler(event)
            spent[0] += time.perf_counter() - start

        events.unsubscribe(events.TwinCreated, handler)
        events.subscribe(events.TwinCreated, timed, in_transaction=True)
        wrapped.append(timed)

    # Time spent signing and storing the batch's authenticity credentials (makers.authenticity), if any.
    signing = [0.0]
    try:
        from makers import authenticity
    except ImportError:  # before authenticity credentials
        authenticity = None
    if authenticity is not None:
        issue = authenticity.issue_for_produced

        def timed_issue(*args, **kwargs):
            start = time.perf_counter()
            try:
                return issue(*args, **kwargs)
            finally:
                signing[0] += time.perf_counter() - start

        authenticity.issue_for_produced = timed_issue

    start = time.perf_counter()
    for i in range(args.single):
        with transaction.atomic():
            twin = twin_create(owner=account, name=model.name, model_name=model.name, serial=f"ONE{i}")
            tag_create(twin=twin)
    single = (time.perf_counter() - start) / args.single
    single_subscribers = spent[0] / args.single
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    spent[0] = 0.0
    start = time.perf_counter()
    rows = produce(model=model, serials=[f"SN{i:06d}" for i in range(args.count)], by=admin)
    wall = time.perf_counter() - start
    assert len(rows) == args.count
    bulk = wall / args.count
    print(f"{connection.vendor}: {args.single} twins one by one, then one batch of {args.count:,}")
    bulk_subscribers = spent[0] / args.count
    print(f"twin_create + tag_create: {single * 1e3:8.2f} ms/twin (subscribers {single_subscribers * 1e3:.2f})")
    print(f"produce (bulk):           {bulk * 1e3:8.2f} ms/twin (subscribers {bulk_subscribers * 1e3:.2f})")
    print(
        f"without subscribers:      {(single - single_subscribers) * 1e3:8.2f} vs {(bulk - bulk_subscribers) * 1e3:.2f}"
    )
    print(f"ratio bulk / one by one:  {bulk / single:8.3f}")
    print(f"batch of {args.count:,}: {wall:.1f} s, of which TwinCreated subscribers {spent[0]:.1f} s")
    print(f"authenticity credentials: {signing[0]:.1f} s ({signing[0] / args.count * 1e3:.2f} ms/twin)")


if __name__ == "__main__":
    main()
