"""Close ended batching windows and enqueue delivery of every outbox item that is due and unclaimed: the safety
net behind the worker's own scheduling (a task lost with a crashed worker, a lapsed lease). Run it every minute or
so (cron, systemd timer) next to `didcomm_deliver_due`."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from sharing import attempts
from sharing.tasks import deliver_due


class Command(BaseCommand):
    help = "Enqueue delivery of permitted notifications that are due (the safety net behind the worker)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="at most this many per run (default 500)")
        parser.add_argument(
            "--here",
            action="store_true",
            help="deliver them in this process instead of enqueuing (no worker needed; SKIP LOCKED claims)",
        )

    def handle(self, *args, limit: int, here: bool, **options) -> None:
        if not here:
            count = deliver_due(limit=limit)
            self.stdout.write(f"{count} notification(s) enqueued for delivery")
            return
        attempts.close_windows()
        outcomes = attempts.deliver_claimed(attempts.claim_batch(limit=limit))
        delivered = sum(1 for outcome in outcomes if outcome.status == "delivered")
        self.stdout.write(f"{len(outcomes)} notification(s) attempted, {delivered} delivered")
