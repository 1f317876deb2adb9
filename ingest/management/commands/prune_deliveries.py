"""Forget webhook deliveries older than the idempotency window (default 7 days, at least 5)."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ingest.services import deliveries_prune


class Command(BaseCommand):
    help = "Delete webhook deliveries older than --days (default 7, minimum 5); run daily."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=7)

    def handle(self, *args, days: int, **options) -> None:
        try:
            deleted = deliveries_prune(older_than=timedelta(days=days))
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        self.stdout.write(f"Deleted {deleted} deliveries older than {days} days.")
