"""Pre-printed tags: `manage.py make_tag_batch --count 100 --batch fair-2026 --csv fair.csv`."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core import csvsafe
from tags.services import MAX_BATCH, tag_batch_create


class Command(BaseCommand):
    help = "Create a batch of unassigned tags for printing; print (or write as CSV) their URLs and codes."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, required=True, help=f"How many tags (1 to {MAX_BATCH}).")
        parser.add_argument("--batch", required=True, help="A name for the batch (up to 40 characters).")
        parser.add_argument("--csv", dest="csv_path", type=Path, help="Also write url,code,batch rows to this file.")

    def handle(self, *args, count: int, batch: str, csv_path: Path | None = None, **options) -> None:
        try:
            tags = tag_batch_create(count=count, batch=batch)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        rows = [(tag.url, tag.display_code, tag.batch) for tag in tags]
        for url, code, _ in rows:
            self.stdout.write(f"{url}\t{code}")
        if csv_path is not None:
            _write_csv(csv_path, rows)
        self.stderr.write(f"Created {len(tags)} unassigned tags in batch {tags[0].batch!r}.")


def _write_csv(path: Path, rows: list[tuple[str, str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.writer(handle)
        writer.writerow(["url", "code", "batch"])
        writer.writerows(rows)
