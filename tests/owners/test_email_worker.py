"""Email to owners goes through the real database task queue and the real worker command."""

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from owners import services

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.mark.django_db(transaction=True)
def test_finder_email_is_queued_on_commit_and_sent_by_the_worker(settings, alice, grinder, mailoutbox):
    settings.TASKS = DB_TASKS
    services.notify(owner=alice, kind="message", title="Message about Coffee grinder", body="Found it", email=True)
    assert DBTaskResult.objects.count() == 1
    assert mailoutbox == []
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.org"]


@pytest.mark.django_db(transaction=True)
def test_rolled_back_message_queues_no_email(settings, alice, grinder):
    from django.db import transaction

    settings.TASKS = DB_TASKS

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        services.notify(owner=alice, kind="message", title="x", email=True)
        raise Abort
    assert DBTaskResult.objects.count() == 0
