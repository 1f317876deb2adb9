"""The things list's has-tag filter (twins.listing): `?tagged=yes` things with an active tag, `no` those without."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet

from tags.models import Tag
from twins import listing

_CHOICES = [("yes", "With a tag"), ("no", "Without a tag")]


def _filter_tagged(qs: QuerySet, raw: str, viewer: Any) -> QuerySet:
    if raw not in ("yes", "no"):
        raise ValidationError("Tagged is yes (things with an active tag) or no (things without one).")
    # EXISTS rather than the list's tag count: a condition on the row, not on a GROUP BY of every thing.
    active = Exists(Tag.objects.filter(twin_id=OuterRef("pk"), status=Tag.Status.ACTIVE))
    return qs.filter(active if raw == "yes" else ~active)


def connect() -> None:
    listing.register_filter(
        listing.ListFilter(
            param="tagged",
            label="Tags",
            apply=_filter_tagged,
            choices=lambda viewer: _CHOICES,
            help_text="yes: only things with an active tag; no: only things without one.",
            order=30,
        )
    )
