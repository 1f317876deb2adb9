"""Maintenance schedules: "descale every 3 months". Marking one done logs a journal entry on the thing (twins'
journal service) and moves its next due date; a reminder goes out once per due date.

Keepers may look after the maintenance: the list needs the VIEW capability and "done" needs JOURNAL_WRITE (it
writes the journal); adding, changing and deleting schedules stays the owner's.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from owners.models import Notification
from owners.services import notify
from twins import events, leaving
from twins import services as twin_services
from upkeep.models import Schedule

MAX_EVERY = 1000


def add_interval(day: date, every: int, unit: str) -> date:
    """`day` plus `every` units; a month step keeps the day of the month where it can (31 Jan + 1 month is the
    28th or 29th of February)."""
    if unit == Schedule.Unit.DAYS:
        return day + timedelta(days=every)
    if unit == Schedule.Unit.WEEKS:
        return day + timedelta(weeks=every)
    months = every * (12 if unit == Schedule.Unit.YEARS else 1)
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _check_interval(every: Any, unit: str) -> dict[str, str]:
    errors = {}
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= MAX_EVERY:
        errors["every"] = f"How often: a whole number from 1 to {MAX_EVERY}."
    if unit not in Schedule.Unit.values:
        errors["unit"] = "Choose days, weeks, months or years."
    return errors


@transaction.atomic
def schedule_create(
    *,
    twin: Any,
    name: str,
    every: int,
    unit: str = Schedule.Unit.MONTHS,
    last_done: date | None = None,
    next_due: date | None = None,
) -> Schedule:
    """A new schedule. Its first due date: `next_due` if given, else one interval after `last_done`, else one
    interval from today. Refused for a thing on its way to another host (twins.leaving: its schedules travel)."""
    leaving.refuse_if_leaving(twin)
    errors = _check_interval(every, unit)
    name = (name or "").strip()
    if not name:
        errors["name"] = 'Name the task, like "Descale".'
    today = timezone.localdate()
    if last_done is not None and last_done > today:
        errors["last_done"] = "The day it was last done is in the future."
    if errors:
        raise ValidationError(errors)
    if next_due is None:
        next_due = add_interval(last_done or today, every, unit)
    if last_done is not None and next_due <= last_done:
        raise ValidationError({"next_due": "The next due date must come after the day it was last done."})
    schedule = Schedule(twin_id=twin.pk, name=name, every=every, unit=unit, last_done=last_done, next_due=next_due)
    schedule.full_clean(exclude=["twin"])
    schedule.save()
    return schedule


@transaction.atomic
def schedule_update(*, schedule: Schedule, **fields: Any) -> Schedule:
    unknown = set(fields) - {"name", "every", "unit", "next_due"}
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    leaving.refuse_if_any_leaving([schedule.twin_id])
    schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
    for key, value in fields.items():
        setattr(schedule, key, value.strip() if key == "name" and isinstance(value, str) else value)
    errors = _check_interval(schedule.every, schedule.unit)
    if not schedule.name:
        errors["name"] = 'Name the task, like "Descale".'
    if schedule.last_done is not None and schedule.next_due <= schedule.last_done:
        errors["next_due"] = "The next due date must come after the day it was last done."
    if errors:
        raise ValidationError(errors)
    schedule.full_clean(exclude=["twin"])
    schedule.save()
    return schedule


@transaction.atomic
def schedule_delete(*, schedule: Schedule) -> None:
    leaving.refuse_if_any_leaving([schedule.twin_id])
    schedule.delete()


@transaction.atomic
def schedule_done(*, schedule: Schedule, on: date | None = None, note: str = "", by: Any = None) -> Schedule:
    """Record that the task was done on `on` (today by default): a journal entry on the thing, and the next due
    date one interval later. The same day twice (a double tap, a retried request) records it once. `by`: who did
    it (the owner or a keeper), for the journal entry's attribution."""
    schedule = Schedule.objects.select_for_update().select_related("twin").get(pk=schedule.pk)
    today = timezone.localdate()
    on = on or today
    if on > today:
        raise ValidationError({"on": "That day is in the future: mark it done once it is done."})
    if schedule.last_done is not None and on < schedule.last_done:
        raise ValidationError(
            {"on": f"It was last done on {schedule.last_done.isoformat()}; give that day or a later one."}
        )
    if schedule.last_done == on:
        return schedule
    schedule.last_done = on
    schedule.next_due = add_interval(on, schedule.every, schedule.unit)
    schedule.save(update_fields=["last_done", "next_due"])
    when = timezone.now() if on == today else timezone.make_aware(datetime.combine(on, time(12)))
    text = f"Maintenance ({schedule.interval_text}). Next due {schedule.next_due.isoformat()}."
    if note.strip():
        text += "\n\n" + note.strip()
    twin_services.note_create(twin=schedule.twin, title=f"{schedule.name}: done", text=text, time=when, by=by)
    return schedule


def schedule_list(*, twin: Any):
    return Schedule.objects.filter(twin_id=twin.pk).order_by("next_due", "id")


def schedule_get(*, twin: Any, schedule_id: int) -> Schedule:
    schedule = Schedule.objects.filter(twin_id=twin.pk, pk=schedule_id).first()
    if schedule is None:
        raise Http404("No such schedule.")
    return schedule


def maintenance_reminders_send(*, today: date | None = None) -> int:
    """One inbox item (and email) per schedule that has come due: once per due date, however often this runs and
    from however many workers (a conditional UPDATE claims it). Returns how many went out."""
    today = today or timezone.localdate()
    due = (
        Schedule.objects.due_by(today)
        .filter(twin__archived_at__isnull=True, twin__deactivated_at__isnull=True)
        # Only things that live here: a moved one's owner is reminded by its new host (issue 18).
        .filter(twin__moved_to="", twin__arriving=False)
        .exclude(reminded_for=F("next_due"))
        .values_list("pk", "next_due")
        .order_by("next_due", "pk")
    )
    return sum(_remind(pk, next_due) for pk, next_due in list(due[:5000]))


@transaction.atomic
def _remind(schedule_id: int, next_due: date) -> int:
    claimed = (
        Schedule.objects.filter(pk=schedule_id, next_due=next_due)
        .exclude(reminded_for=next_due)
        .update(reminded_for=next_due)
    )
    if not claimed:
        return 0  # another worker sent it, or it was done meanwhile
    schedule = Schedule.objects.select_related("twin__owner").get(pk=schedule_id)
    twin = schedule.twin
    notify(
        owner=twin.owner,
        kind=Notification.Kind.SYSTEM,
        title=f"{schedule.name} is due for your {twin.name}",
        body=f"Due on {next_due.isoformat()} ({schedule.interval_text}). Mark it done on the thing's page.",
        twin=twin,
        email=True,
        action_url=reverse("thing", args=[twin.slug]) + "#upkeep-maintenance",
        action_label="Open the thing",
    )
    return 1


def on_transferred(event: events.Transferred) -> None:
    """Schedules go with the thing (descaling is still due); the buyer gets a reminder of their own."""
    Schedule.objects.filter(twin_id=event.twin_id).update(reminded_for=None)


def connect() -> None:
    events.subscribe(events.Transferred, on_transferred, in_transaction=True)
