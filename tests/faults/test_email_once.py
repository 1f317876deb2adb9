"""A notification's email task is safe to run again (the reaper re-runs a task whose worker died): once the
email went out, a re-run sends nothing. Every attempt carries the same Message-ID."""

from __future__ import annotations

import pytest
from django.core import mail

from owners.models import Notification
from owners.services import notify
from owners.tasks import send_notification_email

pytestmark = pytest.mark.django_db


def test_running_the_email_task_again_after_it_completed_sends_nothing(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        item = notify(owner=alice, kind=Notification.Kind.MESSAGE, title="Your bike was found", email=True)
    assert len(mail.outbox) == 1  # the test backend runs tasks inline, at commit
    item.refresh_from_db()
    assert item.emailed_at is not None

    send_notification_email.call(item.pk)  # the worker's re-run after a crash before it recorded success
    assert len(mail.outbox) == 1


def test_an_attempt_that_did_not_complete_is_sent_by_the_next_one_with_the_same_message_id(alice):
    item = notify(owner=alice, kind=Notification.Kind.MESSAGE, title="Your bike was found")
    send_notification_email.call(item.pk)
    Notification.objects.filter(pk=item.pk).update(emailed_at=None)  # as if the worker died before the marker
    send_notification_email.call(item.pk)
    assert len(mail.outbox) == 2
    ids = {message.extra_headers["Message-ID"] for message in mail.outbox}
    assert len(ids) == 1 and ids.pop().startswith(f"<notification-{item.pk}.")
