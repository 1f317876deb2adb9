"""Step 2 for an owner whose keys are self-held (issue 18): the old host cannot sign the move, so the owner does.

The same two halves as a self-held seller's transfer (twins.transfer.transfer_prepare / transfer_complete), with the
same tool and format:

1. :func:`move_prepare`: the owner gives their next key's public half (``python -m ssi.sign pubkey NEXT_KEYFILE``)
   and gets the move's two DID log entries, unsigned (twins.moving.move_entries_unsigned); they are kept on the
   MoveOut (``prepared_entries``) to compare the upload with. Nothing else changes: the twin stays live and
   writable here, the request stays ``requested``.
2. The owner signs them offline (``python -m ssi.sign sign NEXT_KEYFILE entries.json --attach``) and uploads the
   output with the move's pairing code (moves.pairing: given with the upload, as the button's confirmation takes
   it): ``moves.services.move_confirm(move_out=..., by=..., pairing_code=..., signed_entries=...)``, which checks them
   (twins.moving.move_entries_signed: exactly the prepared entries, still continuing the log, signed by the key it
   committed to) and from there goes on exactly as for a platform-held owner: sealed package, push, release.

A refused upload writes nothing: the request stays confirmable, with the same prepared entries.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from moves.models import MoveOut
from moves.services import MoveRefused, why_not
from owners.models import Owner
from twins import moving
from twins.models import Twin


def owner_signs_offline(move: MoveOut) -> bool:
    """Whether the owner of the thing ``move`` asks for signs the move offline (their keys are self-held)."""
    return moving.signs_offline(move.twin)


def entries_filename(move: MoveOut) -> str:
    """The download's name: the move's id in it, so a file for another move is told apart at a glance."""
    return f"move-{move.public_id}-entries.json"


@transaction.atomic
def move_prepare(*, move_out: MoveOut, by: Owner, revealed_key: str) -> list[dict[str, Any]]:
    """Half 1 (see the module docstring): the unsigned entries for ``by``, the thing's owner, to sign with the key
    whose public half is ``revealed_key``. Downloading again makes them afresh (a new versionTime): only the last
    download's entries are taken. MoveRefused (404 for someone else's move, 410 for a request that ended or
    expired, 409/403/400 with the reason) and nothing changes."""
    # The thing first, then the request, as move_confirm does (two at once queue instead of deadlocking).
    twin = Twin.objects.select_for_update().get(
        pk=MoveOut.objects.values_list("twin_id", flat=True).get(pk=move_out.pk)
    )
    move = MoveOut.objects.select_for_update().get(pk=move_out.pk)
    if twin.owner_id != by.pk:
        raise MoveRefused("Only the thing's owner can confirm its move.", status=404)
    if move.state in MoveOut.IN_FLIGHT or move.state == MoveOut.State.DONE:
        raise MoveRefused("This move is confirmed already: there is nothing more to sign.")
    if move.state != MoveOut.State.REQUESTED:
        raise MoveRefused(
            f"This request is {move.get_state_display().lower()}: ask again from the new host.", status=410
        )
    now = timezone.now()
    if move.expires_at <= now:
        raise MoveRefused("This request has expired: ask again from the new host.", status=410)
    reason = why_not(move, twin)
    if reason:
        raise MoveRefused(reason)
    entries = moving.move_entries_unsigned(
        twin,
        by=by,
        revealed_key=revealed_key,
        new_domain=move.destination_did_domain,
        new_update_key=move.owner_update_key,
        new_next_key_hash=move.owner_next_key_hash,
        destination_url=move.destination_url,
    )
    MoveOut.objects.filter(pk=move.pk).update(prepared_entries=entries, prepared_at=now)
    return entries
