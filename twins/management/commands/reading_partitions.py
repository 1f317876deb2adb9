"""Keep the readings table's monthly partitions ahead of time (twins.partitions) and list them. Run it daily (cron,
a systemd timer); it is idempotent, and safe alongside another run."""

from __future__ import annotations

from argparse import ArgumentTypeError
from datetime import date

from django.core.management.base import BaseCommand

from twins.partitions import MONTHS_AHEAD, ensure_reading_partitions, is_partitioned, reading_partitions


def _month(text: str) -> date:
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a month written YYYY-MM (e.g. 2025-01)") from None


class Command(BaseCommand):
    help = "Create the readings' monthly partitions for this month and the next few (PostgreSQL), and list them."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--ahead", type=int, default=MONTHS_AHEAD, help=f"months after this one (default {MONTHS_AHEAD})"
        )
        parser.add_argument(
            "--since",
            type=_month,
            help="also every month from this one (YYYY-MM), e.g. before importing older readings",
        )
        parser.add_argument(
            "--list", dest="show", action="store_true", help="list the partitions and their estimated rows"
        )

    def handle(self, *args, ahead: int, since: date | None, show: bool, **options) -> None:
        if not is_partitioned():
            self.stdout.write("readings are not partitioned on this database (SQLite): nothing to do")
            return
        if ahead < 0:
            self.stderr.write("--ahead must be 0 or more")
            raise SystemExit(2)
        created = ensure_reading_partitions(ahead=ahead, since=since)
        self.stdout.write(f"{len(created)} partition(s) created" + (f": {', '.join(created)}" if created else ""))
        if show:
            for p in reading_partitions():
                span = "DEFAULT" if p.start is None else f"{p.start} .. {p.end}"
                self.stdout.write(f"{p.name}\t{span}\t~{max(p.rows, 0)} rows")
