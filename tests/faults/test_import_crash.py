"""A process killed (SIGKILL: no cleanup) in the middle of a bulk import leaves nothing half-written, and the import
run again afterwards makes every row exactly once.

Imports here are not tasks: Thingstead's bulk import is a production batch (makers.production.produce, up to
10,000 serials), made in the request that asks for it, inside one database transaction; there is no CSV importer of
things yet (issue 16). So the crash to survive is the web process's, killed once every row of the batch has been
written and before the commit (tests/faults/import_run.py). The database alone must undo it: PostgreSQL aborts the
dead session's transaction; SQLite rolls back the hot journal the next time the file is opened.

On SQLite the test database lives in memory, so the test copies it to a file (sqlite3's backup) for the processes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

import pytest
from django.db import connection

from credentials.authenticity_models import AuthenticityCredential
from makers.models import ProducedThing, ProductionBatch, ProductModel
from tags.models import Tag
from tests.conftest import make_owner
from tests.faults.conftest import ROOT, database_url, wait_for
from tests.makers.conftest import organisation_make
from twins.models import DidLogEntry, HistoryEntry, Twin

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs("tags", "credentials")]

COUNT = 50
TABLES = {
    model.__name__: model._meta.db_table
    for model in (ProducedThing, ProductionBatch, Twin, Tag, DidLogEntry, HistoryEntry, AuthenticityCredential)
}


@pytest.fixture
def acme_model() -> ProductModel:
    """A manufacturer (with its DID, so each thing gets its authenticity credential) and a product model."""
    organisation = organisation_make(slug="acme", name="Acme Grinders", admin=make_owner("dora"))
    return ProductModel.objects.create(
        organisation=organisation, name="Grindmaster 3000", gtin="09506000134352", icon="thing", reading_kinds=[]
    )


@pytest.fixture
def import_db(tmp_path, acme_model):
    """(DATABASE_URL for the import processes, a function counting the rows of each table there)."""
    if connection.vendor == "sqlite":
        path = tmp_path / "import.sqlite3"
        connection.ensure_connection()
        with sqlite3.connect(path) as copy:
            connection.connection.backup(copy)

        def count() -> dict[str, int]:
            with sqlite3.connect(path) as db:
                return {
                    name: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for name, table in TABLES.items()
                }

        yield f"sqlite:///{path}", count
        return

    def count() -> dict[str, int]:
        with connection.cursor() as cursor:
            answer = {}
            for name, table in TABLES.items():
                cursor.execute(f'SELECT count(*) FROM "{table}"')
                answer[name] = cursor.fetchone()[0]
            return answer

    already = _other_sessions()  # the suite's own (a session-scoped server's, say): not the import processes'
    yield database_url(), count
    # A killed client's server session outlives it by a moment: wait, or dropping the test database fails.
    wait_for(lambda: _other_sessions() <= already, timeout=15, what="the import processes' database sessions to end")


def _other_sessions() -> set[int]:
    """The server pids of every other session in the test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def _run(db_url: str, gtin: str, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings_test", DATABASE_URL=db_url, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.import_run", gtin, str(COUNT), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_an_import_killed_before_its_commit_leaves_nothing_and_runs_once_after(import_db, acme_model, tmp_path):
    db_url, count = import_db
    before = count()
    marker = tmp_path / "written-not-committed"

    killed = _run(db_url, acme_model.gtin, str(marker))
    wait_for(lambda: marker.exists() or killed.poll() is not None, timeout=120, what="the import to write its rows")
    assert marker.exists(), killed.communicate()[0]
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    assert count() == before  # nothing of the batch, not even its batch row

    # Run again after the crash, and once more (a person pressing the button again): made once, then refused.
    again = _run(db_url, acme_model.gtin)
    output = again.communicate(timeout=120)[0]
    assert again.returncode == 0, output
    first, second = output.strip().splitlines()[-2:]
    assert first == str(COUNT), output
    assert second.startswith("refused: ") and "already produced" in second, output
    after = count()
    made = {name: after[name] - before[name] for name in before}
    assert made == {
        "ProducedThing": COUNT,
        "ProductionBatch": 1,
        "Twin": COUNT,
        "Tag": COUNT,
        "DidLogEntry": COUNT,
        "HistoryEntry": 2 * COUNT,
        "AuthenticityCredential": COUNT,
    }
