"""Send the reminders that are due (warranties ending soon, maintenance come due). Idempotent: run it as often as
you like (the task worker also runs it hourly); each reminder goes out once."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from upkeep.reminders import reminders_send


class Command(BaseCommand):
    help = "Send due warranty and maintenance reminders (each once; safe to run at any frequency)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--today", help="Act as if today were this day (YYYY-MM-DD), to catch up or to test.")

    def handle(self, *args, **options) -> None:
        today = None
        if options.get("today"):
            try:
                today = date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError("--today takes a day like 2026-12-31.") from None
        sent = reminders_send(today=today)
        self.stdout.write(f"Reminders sent: {sent['warranty']} warranty, {sent['maintenance']} maintenance.")
