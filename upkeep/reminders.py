"""The reminders' periodic run: warranties about to end and maintenance come due, each reminded of once.

Run by every task worker (core.periodic, hourly) and by hand or cron with `python manage.py upkeep_remind`.
Both are safe at any frequency and from several processes at once: each reminder is claimed by a conditional
UPDATE in the transaction that writes its inbox item.
"""

from __future__ import annotations

from datetime import date, timedelta

from core.periodic import register_periodic
from upkeep.maintenance import maintenance_reminders_send
from upkeep.warranty import warranty_reminders_send

EVERY = timedelta(hours=1)


def reminders_send(*, today: date | None = None) -> dict[str, int]:
    """Send what is due; {"warranty": n, "maintenance": m} of the reminders that went out."""
    return {
        "warranty": warranty_reminders_send(today=today),
        "maintenance": maintenance_reminders_send(today=today),
    }


def _periodic() -> None:
    reminders_send()


def connect() -> None:
    register_periodic("upkeep.reminders", EVERY, _periodic)
