"""NTAG 424 DNA SUN keys for a batch of chips: `manage.py sun_provision --batch fair-2026 --output keys.json`
(the unassigned tags of a pre-printed batch, from make_tag_batch) or `--thing=<slug>` (a thing's active tags;
with "=", since a slug may start with "-").

Writes the provisioning file (tags.nfc_provision: JSON or CSV, by --format or the output's extension) with each
chip's keys: the only time they are shown. With --replace, a chip that has keys already gets new ones and its row
carries its current keys too (shown this once more), which a programming tool needs to re-key it. The file is
created with mode 0600 and is never overwritten.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tags import nfc, nfc_provision
from tags.models import Tag


class Command(BaseCommand):
    help = "Create NTAG 424 DNA SUN keys for a batch of tags and write the provisioning file for a programming tool."

    def add_arguments(self, parser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--batch", help="The unassigned tags of this pre-printed batch.")
        which.add_argument(
            "--thing", help="The active tags of the thing with this slug; write --thing=<slug> (it may start with -)."
        )
        parser.add_argument("--output", type=Path, required=True, help="The file to create (.json or .csv).")
        parser.add_argument("--format", choices=nfc_provision.FORMATS, help="Default: from the output's extension.")
        parser.add_argument("--replace", action="store_true", help="Replace keys that exist (chips to reprogram).")

    def handle(self, *args, batch: str | None, thing: str | None, output: Path, replace: bool, **options) -> None:
        fmt = options.get("format") or ("csv" if output.suffix.lower() == ".csv" else "json")
        if batch is not None:
            tags = Tag.objects.filter(batch=batch.strip(), status=Tag.Status.UNASSIGNED)
        else:
            tags = Tag.objects.filter(twin__slug=thing, status=Tag.Status.ACTIVE)
        tags = list(tags.order_by("created_at", "id"))
        if not tags:
            where = f"batch {batch!r}" if batch is not None else f"thing {thing!r}"
            raise CommandError(f"No tags to provision in {where}.")
        try:
            # Created before any key exists, so that a path that cannot be written loses no keys.
            handle = os.fdopen(os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        except OSError as exc:
            message = f"Cannot create {output}: {exc.strerror} (an existing file is never overwritten)."
            raise CommandError(message) from None
        with handle:
            try:
                provisioned = nfc.sun_provision(tags=tags, replace=replace)
            except ValidationError as exc:
                handle.close()
                output.unlink()
                raise CommandError(" ".join(exc.messages)) from exc
            handle.write(nfc_provision.render(provisioned, fmt)[0])
        replaced = sum(1 for item in provisioned if item.chip_keys is not None)
        note = f" {replaced} of them replace keys: the file has those chips' current keys too." if replaced else ""
        self.stderr.write(f"Wrote keys and SDM settings for {len(provisioned)} chips to {output}.{note}")
