"""The things list's keeper filter (twins.listing): `?keeper=yes` the owner's things someone looks after now (a
standing keeper credential the current owner issued), `no` the others."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from credentials.models import AccessCredential
from twins import listing

_CHOICES = [("yes", "With a keeper"), ("no", "Without a keeper")]


def _filter_kept(qs: QuerySet, raw: str, viewer: Any) -> QuerySet:
    if raw not in ("yes", "no"):
        raise ValidationError("Keeper is yes (things someone looks after for you now) or no (the others).")
    keepers = AccessCredential.objects.standing(timezone.now()).filter(
        twin_id=OuterRef("pk"), role=AccessCredential.Role.KEEPER, issued_by_id=OuterRef("owner_id")
    )
    return qs.filter(Exists(keepers) if raw == "yes" else ~Exists(keepers))


def connect() -> None:
    listing.register_filter(
        listing.ListFilter(
            param="keeper",
            label="Keeper",
            apply=_filter_kept,
            choices=lambda viewer: _CHOICES,
            help_text="yes: only things with an active keeper; no: only things without one.",
            order=40,
        )
    )
