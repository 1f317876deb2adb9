"""Move every twin whose DID log still names its owner's shared keys to per-thing keys (review finding 5).

Twins incepted before per-thing keys name their owner's root keys, the same in every one of that owner's logs;
their next transfer or move hands them to per-thing keys anyway. This appends, for each such twin of a platform-held
owner, the two entries that rotate its log to the owner's keys for that thing (twins.identity.twin_to_thing_keys).
Idempotent: a twin already on per-thing keys is left alone, so it can be run again after an interrupted run.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ssi.errors import SSIError
from twins.identity import twin_to_thing_keys
from twins.models import Twin


class Command(BaseCommand):
    help = "Rotate the DID logs that still name their owner's shared keys to per-thing keys."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch", type=int, default=500, help="twins read per query (default 500)")

    def handle(self, *args, **options) -> None:
        moved = skipped = failed = 0
        last = 0
        while True:
            ids = list(
                Twin.objects.filter(pk__gt=last, deactivated_at__isnull=True, moved_to="")
                .order_by("pk")
                .values_list("pk", flat=True)[: options["batch"]]
            )
            if not ids:
                break
            last = ids[-1]
            for pk in ids:
                try:
                    if twin_to_thing_keys(Twin(pk=pk)):
                        moved += 1
                    else:
                        skipped += 1
                except (SSIError, Twin.DoesNotExist) as exc:
                    failed += 1
                    self.stderr.write(f"twin {pk}: {exc}")
        self.stdout.write(f"{moved} moved to per-thing keys, {skipped} left as they were, {failed} failed")
