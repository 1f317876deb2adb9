"""Reminders: a warranty ending within 30 days and maintenance come due each make one inbox item and one email,
once per date, however often the run goes (the command, the worker's periodic job, two at once); a new date is
reminded of again; archived things get none."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from core import periodic
from owners.models import Notification
from tests.conftest import run_together
from twins import services as twin_services
from twins.models import Twin
from upkeep import maintenance, warranty
from upkeep.reminders import reminders_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return timezone.localdate()


def notices(owner):
    return list(Notification.objects.filter(owner=owner).values_list("title", flat=True))


def test_a_warranty_ending_within_30_days_is_reminded_once_in_the_inbox_and_by_email(
    alice, grinder, today, django_capture_on_commit_callbacks
):
    warranty.purchase_set(twin=grinder, warranty_ends=today + timedelta(days=20))
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send() == {"warranty": 1, "maintenance": 0}
        assert reminders_send() == {"warranty": 0, "maintenance": 0}
    assert notices(alice) == ["The warranty of your Coffee grinder ends in 20 days"]
    item = Notification.objects.get(owner=alice)
    assert item.twin_id == grinder.pk and item.action_url == f"/things/{grinder.slug}/#upkeep-purchase"
    assert len(mail.outbox) == 1 and "warranty" in mail.outbox[0].subject and mail.outbox[0].to == [alice.email]


def test_a_warranty_further_off_or_already_ended_is_not_reminded(alice, grinder, today):
    warranty.purchase_set(twin=grinder, warranty_ends=today + timedelta(days=31))
    assert reminders_send()["warranty"] == 0
    warranty.purchase_set(twin=grinder, warranty_ends=today - timedelta(days=1))
    assert reminders_send()["warranty"] == 0
    assert notices(alice) == []


def test_a_new_warranty_end_is_reminded_again(alice, grinder, today):
    warranty.purchase_set(twin=grinder, warranty_ends=today + timedelta(days=10))
    assert reminders_send()["warranty"] == 1
    warranty.purchase_set(twin=grinder, warranty_ends=today + timedelta(days=25))  # extended
    assert reminders_send()["warranty"] == 1
    assert reminders_send()["warranty"] == 0
    assert len(notices(alice)) == 2


def test_maintenance_come_due_is_reminded_once_per_due_date(alice, grinder, today):
    schedule = maintenance.schedule_create(
        twin=grinder, name="Descale", every=3, unit="months", next_due=today + timedelta(days=2)
    )
    assert reminders_send(today=today)["maintenance"] == 0  # not due yet
    assert reminders_send(today=today + timedelta(days=2))["maintenance"] == 1
    assert reminders_send(today=today + timedelta(days=3))["maintenance"] == 0  # still due: not again
    assert notices(alice) == ["Descale is due for your Coffee grinder"]

    maintenance.schedule_done(schedule=schedule)
    schedule.refresh_from_db()
    # The next due date comes: one reminder for it.
    assert reminders_send(today=schedule.next_due)["maintenance"] == 1
    assert len(notices(alice)) == 2


def test_archived_things_get_no_reminders(alice, grinder, today):
    warranty.purchase_set(twin=grinder, warranty_ends=today + timedelta(days=3))
    maintenance.schedule_create(twin=grinder, name="Descale", every=1, unit="months", next_due=today)
    twin_services.twin_set_archived(twin=grinder, archived=True)
    assert reminders_send() == {"warranty": 0, "maintenance": 0}


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_reminder_once(alice, grinder, today):
    warranty.purchase_set(twin=grinder, warranty_ends=today + timedelta(days=3))
    maintenance.schedule_create(twin=grinder, name="Descale", every=1, unit="months", next_due=today)
    outcomes = run_together(reminders_send, reminders_send)
    # On SQLite a writer may find the table locked by the other: that run fails (and would retry at the next
    # tick); on PostgreSQL both finish. Either way each reminder went out exactly once.
    assert any(kind == "ok" for kind, _ in outcomes), outcomes
    assert sorted(notices(alice)) == [
        "Descale is due for your Coffee grinder",
        "The warranty of your Coffee grinder ends in 3 days",
    ]


def test_the_command_sends_what_is_due_and_says_how_many(alice, grinder, today, capsys):
    maintenance.schedule_create(twin=grinder, name="Descale", every=1, unit="months", next_due=today)
    call_command("upkeep_remind")
    assert "Reminders sent: 0 warranty, 1 maintenance." in capsys.readouterr().out
    call_command("upkeep_remind")
    assert "Reminders sent: 0 warranty, 0 maintenance." in capsys.readouterr().out


def test_the_command_refuses_a_bad_day_with_words():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--today takes a day like 2026-12-31"):
        call_command("upkeep_remind", today="31/12/2026")


def test_the_worker_runs_the_reminders_as_a_registered_periodic_job(alice, grinder, today):
    """upkeep registers its run with core.periodic; the task worker's runner (the one its background thread
    ticks) sends the reminder."""
    maintenance.schedule_create(twin=grinder, name="Descale", every=1, unit="months", next_due=today)
    assert "upkeep.reminders" in [job.name for job in periodic.periodic_jobs()]
    ran = periodic.PeriodicRunner().run_due()
    assert ran["upkeep.reminders"] is True
    assert notices(alice) == ["Descale is due for your Coffee grinder"]


@pytest.mark.parametrize("where", ["moved away", "still arriving"])
def test_things_that_do_not_live_here_get_no_reminders_from_this_host(alice, grinder, today, where):
    # A moved thing's owner is reminded by its new host (its purchase and schedules moved with it, issue 18).
    warranty.purchase_set(twin=grinder, warranty_ends=today + timedelta(days=3))
    maintenance.schedule_create(twin=grinder, name="Descale", every=3, unit="months", next_due=today)
    change = {"moved_to": "https://new.example.org", "moved_at": timezone.now()}
    Twin.objects.filter(pk=grinder.pk).update(**(change if where == "moved away" else {"arriving": True}))

    assert reminders_send(today=today) == {"warranty": 0, "maintenance": 0}
    assert notices(alice) == [] and mail.outbox == []
