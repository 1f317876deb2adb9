"""Replay the dead letter: put FAILED outbox items back for delivery, same message id, attempts reset."""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from sharing.replay import outbox_replay, replayable


class Command(BaseCommand):
    help = "Put failed notifications (the dead letter) back for delivery: by message id, by twin, or all."

    def add_arguments(self, parser) -> None:
        parser.add_argument("message_ids", nargs="*", help="message ids (UUIDs) of failed items")
        parser.add_argument("--twin", help="every failed item of the twin with this slug")
        parser.add_argument("--all", action="store_true", help="every failed item")
        parser.add_argument("--dry-run", action="store_true", help="list what would be replayed, change nothing")

    def handle(self, *args, message_ids: list[str], twin: str | None, all: bool, dry_run: bool, **options) -> None:
        if not (message_ids or twin or all):
            raise CommandError("name message ids, or use --twin SLUG or --all")
        items = replayable(by=None)
        if message_ids:
            try:
                parsed = [uuid.UUID(value) for value in message_ids]
            except ValueError:
                raise CommandError("message ids are UUIDs, as the delivery log shows them") from None
            items = items.filter(message_id__in=parsed)
        if twin:
            items = items.filter(twin__slug=twin)
        chosen = list(items.order_by("id")[:10_000])
        for item in chosen:
            self.stdout.write(f"{item.message_id} {item.kind} attempts={item.attempts} {item.last_error}")
        if dry_run:
            self.stdout.write(f"{len(chosen)} failed notification(s) would be replayed")
            return
        replayed = outbox_replay(items=chosen, by=None)
        self.stdout.write(f"{len(replayed)} failed notification(s) put back for delivery")
        if message_ids and len(replayed) < len(set(message_ids)):
            missing = set(message_ids) - {str(item.message_id) for item in replayed}
            self.stderr.write(f"not failed, or not found: {', '.join(sorted(missing))}")
