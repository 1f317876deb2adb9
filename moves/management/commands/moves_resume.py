"""Take every pending step of every move that is due, on both sides (send a request, push a package, announce an
arrival, ask how a request stands; expire old requests). Idempotent: run it as often as you like (each task worker
also runs it every minute); after a crash, it picks every move up where it stopped."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from moves.services import moves_resume


class Command(BaseCommand):
    help = "Resume every move between instances that has a step due (safe to run at any frequency)."

    def handle(self, *args, **options) -> None:
        attempted = moves_resume()
        self.stdout.write(f"Move steps attempted: {attempted}.")
