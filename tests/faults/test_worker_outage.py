"""The task worker rides out a database outage: cut off from PostgreSQL for a few seconds, it stays up, logs it,
and runs the tasks enqueued once the database is back (core.worker.ResilientWorker, `manage.py worker`).

The outage is a TCP proxy on loopback between the worker and the server, stopped and started again (the shared
PostgreSQL server itself is never touched): open connections are cut and new ones refused, as when the server
restarts or the network fails.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from owners.models import Notification
from owners.services import notify
from tests.faults.conftest import Proxy, database_url, wait_for
from tests.faults.mail import sent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a worker process needs a shared server database"),
]

WORKER = "worker"  # `db_worker` (django-tasks-db's own) exits at the first outage: this test fails with it.


@pytest.fixture
def proxy():
    params = connection.settings_dict
    relay = Proxy(params["HOST"] or "127.0.0.1", int(params["PORT"] or 5432))
    relay.start()
    yield relay
    relay.stop()


def test_worker_survives_a_database_outage_and_runs_tasks_enqueued_after_it(alice, workers, proxy, db_tasks):
    worker = workers.start(WORKER, db_url=database_url(port=proxy.port))
    notify(owner=alice, kind=Notification.Kind.SYSTEM, title="Before the outage", email=True)
    wait_for(lambda: len(sent(workers.mail_dir)) == 1, timeout=30, what="the first email")

    proxy.stop()
    time.sleep(5)
    assert worker.poll() is None, f"the worker exited during the outage:\n{workers.log(0)}"

    proxy.start()
    notify(owner=alice, kind=Notification.Kind.SYSTEM, title="After the outage", email=True)
    wait_for(lambda: len(sent(workers.mail_dir)) == 2, timeout=60, what="the email enqueued after the outage")
    wait_for(
        lambda: set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"},
        timeout=10,
        what="every task recorded as successful",
    )
    assert worker.poll() is None
    assert "database unavailable" in workers.log(0)
    assert all(item.emailed_at for item in Notification.objects.all())


def test_worker_keeps_waiting_while_the_database_stays_down(alice, workers, proxy, db_tasks):
    proxy.stop()
    worker = workers.start(WORKER, db_url=database_url(port=proxy.port))
    time.sleep(4)
    assert worker.poll() is None, workers.log(0)
    proxy.start()
    notify(owner=alice, kind=Notification.Kind.SYSTEM, title="Hello", email=True)
    wait_for(lambda: len(sent(workers.mail_dir)) == 1, timeout=60, what="the email once the database is up")
