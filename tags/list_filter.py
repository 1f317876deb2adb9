"""The things list's has-tag filter (twins.listing): `?tagged=yes` things with an active tag, `no` those without."""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from tags.models import Tag
from twins import listing


def connect() -> None:
    listing.register_yes_no_filter(
        param="tagged",
        label="Tags",
        condition=lambda: Exists(Tag.objects.filter(twin_id=OuterRef("pk"), status=Tag.Status.ACTIVE)),
        refusal="Tagged is yes (things with an active tag) or no (things without one).",
        choices=[("yes", "With a tag"), ("no", "Without a tag")],
        help_text="yes: only things with an active tag; no: only things without one.",
        order=30,
    )
