"""`python manage.py ingest_history`: append every thing's pending ingested readings to its history now.

The task worker does this within seconds of each message; run this after a crash when no new message will come
for the things concerned (their flush requests would otherwise wait for the next message or flush).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ingest.history import flush_all


class Command(BaseCommand):
    help = "Append every thing's pending ingested readings to its signed history now."

    def handle(self, *args, **options) -> None:
        count = flush_all()
        self.stdout.write(f"{count} history entr{'y' if count == 1 else 'ies'} appended.")
