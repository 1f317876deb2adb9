"""Enqueue delivery of every DIDComm message that is due and unclaimed: the safety net behind the worker's own
retries (a task lost with a crashed worker, a lease that lapsed). Run it every few minutes (cron, systemd timer)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from didcomm.tasks import deliver_due


class Command(BaseCommand):
    help = "Enqueue delivery of DIDComm messages that are due (the safety net behind the worker's retries)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="at most this many per run (default 500)")

    def handle(self, *args, limit: int, **options) -> None:
        count = deliver_due(limit=limit)
        self.stdout.write(f"{count} message(s) enqueued for delivery")
