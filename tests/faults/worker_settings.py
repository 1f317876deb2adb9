"""Settings of the worker processes the fault tests start: production's task backend (the database), the test
database (DATABASE_URL, set by the test), and a mail backend that records messages as files (tests.faults.mail)."""

import os

os.environ.setdefault("DEBUG", "1")

from config.settings import *  # noqa: F403

DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = "thingstead-fault-worker"  # noqa: F405
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
MAILERS = {"default": {"BACKEND": "tests.faults.mail.RecordingBackend"}}
TASK_LEASE_SECONDS = float(os.environ.get("FAULTS_TASK_LEASE_SECONDS", "300"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
