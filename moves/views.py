"""Moves: the pages. On the destination, "bring a thing here" and the move's status; on the source, the owner's
confirmation (with a fresh login, as for a transfer: owners.recent_auth). An owner whose keys are self-held confirms
by downloading the move's entries and uploading them signed (moves.self_held), with the transfer's forms."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.errors import error_response
from moves import selectors, self_held
from moves.forms import BringForm
from moves.models import MoveIn, MoveOut
from moves.services import move_cancel, move_confirm, move_request, why_not
from owners.recent_auth import is_recent, recent_login_required
from twins.transfer_forms import RevealKeyForm, SignedJsonForm
from twins.transfer_views import posted_signed_json


@login_required
def moves_page(request: HttpRequest) -> HttpResponse:
    """Bring a thing here from another host; the owner's moves in, and requests to move their things away."""
    form = BringForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            move = move_request(owner=request.user, source=form.cleaned_data["source"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("move-in", move_in_id=move.public_id)
    context = {
        "form": form,
        "moves_in": selectors.moves_in(viewer=request.user)[:50],
        "moves_out": selectors.moves_out_waiting(viewer=request.user),
    }
    return render(request, "moves/moves.html", context, status=400 if form.errors else 200)


# The destination's steps, as the owner follows them.
STEPS = (
    ("asked", "Your old host has the request"),
    ("confirmed", "You confirmed on your old host"),
    ("arrived", "The thing arrived here"),
    ("done", "Your old host let go: the thing lives here"),
)


def _progress(move: MoveIn) -> list[dict[str, object]]:
    reached = {
        "asked": move.state != MoveIn.State.NEW,
        "confirmed": move.remote_state in ("confirmed", "pushed", "done") or move.arrived_at is not None,
        "arrived": move.arrived_at is not None,
        "done": move.state == MoveIn.State.DONE,
    }
    return [{"label": label, "done": reached[key]} for key, label in STEPS]


@login_required
def move_in_page(request: HttpRequest, move_in_id: str) -> HttpResponse:
    """Where a move here stands, and what to do next."""
    move = selectors.move_in_get(viewer=request.user, move_id=move_in_id)
    done_steps = sum(1 for step in _progress(move) if step["done"])
    context = {"move": move, "progress": _progress(move), "done_steps": done_steps, "total_steps": len(STEPS)}
    return render(request, "moves/move_in.html", context)


@login_required
@require_POST
def move_in_cancel(request: HttpRequest, move_in_id: str) -> HttpResponse:
    move = selectors.move_in_get(viewer=request.user, move_id=move_in_id)
    move_cancel(move=move, by=request.user)
    messages.success(request, "Move cancelled.")
    return redirect("move-in", move_in_id=move.public_id)


@login_required
def move_out_page(request: HttpRequest, move_out_id: str) -> HttpResponse:
    """The owner's confirmation: where the thing would go, and what goes with it."""
    move = selectors.move_out_get(viewer=request.user, move_id=move_out_id)
    expired = move.state == MoveOut.State.REQUESTED and move.expires_at <= timezone.now()
    blocked = None
    signs_offline = False
    if move.state == MoveOut.State.REQUESTED and not expired:
        blocked = why_not(move, move.twin)
        signs_offline = not blocked and self_held.owner_signs_offline(move)
    context = {
        "move": move,
        "twin": move.twin,
        "expired": expired,
        "blocked": blocked,
        "what_moves": selectors.what_moves(),
        "fresh_login": is_recent(request),
        "signs_offline": signs_offline,
        "reveal_form": RevealKeyForm(),
        "sign_form": SignedJsonForm(),
    }
    return render(request, "moves/move_out.html", context)


@login_required
@recent_login_required
@require_POST
def move_out_confirm(request: HttpRequest, move_out_id: str) -> HttpResponse:
    move = selectors.move_out_get(viewer=request.user, move_id=move_out_id)
    move_confirm(move_out=move, by=request.user)
    messages.success(request, f"Confirmed. {move.twin.name} is on its way to {move.destination_host}.")
    return redirect("move-out", move_out_id=move.public_id)


@login_required
@recent_login_required
@require_POST
def move_out_entries(request: HttpRequest, move_out_id: str) -> HttpResponse:
    """A self-held owner downloads the move's two DID log entries to sign (after giving their next public key)."""
    move = selectors.move_out_get(viewer=request.user, move_id=move_out_id)
    form = RevealKeyForm(request.POST)
    if not form.is_valid():
        return error_response(request, 400, "Give your next key's public key (z6Mk…).")
    entries = self_held.move_prepare(move_out=move, by=request.user, revealed_key=form.cleaned_data["next_public_key"])
    response = HttpResponse(json.dumps(entries, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{self_held.entries_filename(move)}"'
    return response


@login_required
@recent_login_required
@require_POST
def move_out_sign(request: HttpRequest, move_out_id: str) -> HttpResponse:
    """A self-held owner uploads the signed entries: the move is confirmed, as by the button of a platform-held one."""
    move = selectors.move_out_get(viewer=request.user, move_id=move_out_id)
    signed, bad = posted_signed_json(request)
    if bad is not None:
        return bad
    move_confirm(move_out=move, by=request.user, signed_entries=signed)
    messages.success(request, f"Signed and confirmed. {move.twin.name} is on its way to {move.destination_host}.")
    return redirect("move-out", move_out_id=move.public_id)


@login_required
@require_POST
def move_out_cancel(request: HttpRequest, move_out_id: str) -> HttpResponse:
    move = selectors.move_out_get(viewer=request.user, move_id=move_out_id)
    move_cancel(move=move, by=request.user)
    messages.success(request, f"Cancelled. {move.twin.name} stays here.")
    return redirect("move-out", move_out_id=move.public_id)
