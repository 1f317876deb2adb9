"""Moves: the pages. On the destination, "bring a thing here" and the move's status; on the source, the owner's
confirmation (with a fresh login, as for a transfer: owners.recent_auth)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from moves import selectors
from moves.forms import BringForm
from moves.models import MoveIn, MoveOut
from moves.services import move_cancel, move_confirm, move_request, why_not
from owners.recent_auth import is_recent, recent_login_required


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
    if move.state == MoveOut.State.REQUESTED and not expired:
        blocked = why_not(move, move.twin)
    context = {
        "move": move,
        "twin": move.twin,
        "expired": expired,
        "blocked": blocked,
        "what_moves": selectors.what_moves(),
        "fresh_login": is_recent(request),
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
@require_POST
def move_out_cancel(request: HttpRequest, move_out_id: str) -> HttpResponse:
    move = selectors.move_out_get(viewer=request.user, move_id=move_out_id)
    move_cancel(move=move, by=request.user)
    messages.success(request, f"Cancelled. {move.twin.name} stays here.")
    return redirect("move-out", move_out_id=move.public_id)
