"""Settings of the worker processes tests/sharing/test_worker_kill.py starts: production's task backend (the
database, DATABASE_URL set by the test), peers on loopback allowed (the receiver listens there), and short leases
(from the environment) so a killed worker's task and item are taken again within seconds."""

import os

os.environ.setdefault("DEBUG", "1")

from config.settings import *  # noqa: F403

if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    # The name tests.faults.conftest waits on before the test database is dropped.
    DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = "thingstead-fault-worker"  # noqa: F405
else:
    # A killed process loses nothing SQLite has written without fsync (the kernel has it): this test kills
    # processes, not the machine, and does not need to wait for the disk.
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"  # noqa: F405
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
TASK_LEASE_SECONDS = float(os.environ.get("KILL_TEST_LEASE_SECONDS", "300"))
SHARING_DELIVERY_LEASE_SECONDS = float(os.environ.get("KILL_TEST_LEASE_SECONDS", "60"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
