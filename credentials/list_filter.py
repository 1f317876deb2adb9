"""The things list's keeper filter (twins.listing): `?keeper=yes` the owner's things someone looks after now (a
standing keeper credential the current owner issued), `no` the others."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.utils import timezone

from credentials.models import AccessCredential
from twins import listing


def _kept() -> Exists:
    return Exists(
        AccessCredential.objects.standing(timezone.now()).filter(
            twin_id=OuterRef("pk"), role=AccessCredential.Role.KEEPER, issued_by_id=OuterRef("owner_id")
        )
    )


def connect() -> None:
    listing.register_yes_no_filter(
        param="keeper",
        label="Keeper",
        condition=_kept,
        refusal="Keeper is yes (things someone looks after for you now) or no (the others).",
        choices=[("yes", "With a keeper"), ("no", "Without a keeper")],
        help_text="yes: only things with an active keeper; no: only things without one.",
        order=40,
    )
