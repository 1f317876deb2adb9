"""Moves: the pages. On the destination, "bring a thing here" and the move's status; on the source, the owner's
confirmation (with a fresh login, as for a transfer: owners.recent_auth). An owner whose keys are self-held confirms
by downloading the move's entries and uploading them signed (moves.self_held), with the transfer's forms.

The confirmation asks for the move's pairing code (moves.pairing), shown on the new host's page: with it, the owner
confirms the request THEY made, not a stranger's for the same thing (review finding 13). The Bring form has
per-account limits (review finding 7): each ask costs the old host's budget for this whole instance."""

from __future__ import annotations

import json
from collections import Counter

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core import ratelimit
from core.errors import error_response
from moves import selectors, self_held
from moves.forms import BringForm, PairingForm
from moves.models import MoveIn, MoveOut
from moves.services import MoveRefused, move_cancel, move_confirm, move_request, why_not
from owners.recent_auth import is_recent, recent_login_required
from twins.transfer_forms import RevealKeyForm, SignedJsonForm
from twins.transfer_views import posted_signed_json

# Finding 7: one account must not use up what the old hosts allow this instance (they count per address, ours).
DEFAULT_OPEN_MOVES_PER_ACCOUNT = 5
DEFAULT_ASKS_PER_ACCOUNT = "10/3600"


def _bring_refusal(owner: object) -> tuple[int, str] | None:
    """(status, words) when ``owner`` may not ask for another move now, before anything is sent: at most
    MOVES_OPEN_PER_ACCOUNT open moves here, and RATE_MOVES_ASKS_PER_ACCOUNT asks (refused ones count too: a
    refused row is deleted, the old host's count of us is not)."""
    most = int(getattr(settings, "MOVES_OPEN_PER_ACCOUNT", DEFAULT_OPEN_MOVES_PER_ACCOUNT))
    if MoveIn.objects.filter(owner=owner, state__in=MoveIn.OPEN).count() >= most:
        return 400, (
            f"You have {most} moves open here, the most at once: wait for one to finish, or cancel one you no longer "
            "need, before asking for another."
        )
    rate = ratelimit.Limit.parse(getattr(settings, "RATE_MOVES_ASKS_PER_ACCOUNT", DEFAULT_ASKS_PER_ACCOUNT))
    wait = ratelimit.hit("moves-asks", str(owner.pk), rate)
    if wait is not None:
        return 429, f"You asked for {rate.count} moves in a short time: try again {ratelimit.wait_text(wait)}."
    return None


@login_required
def moves_page(request: HttpRequest) -> HttpResponse:
    """Bring a thing here from another host; the owner's moves in, and requests to move their things away."""
    form = BringForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        refusal = _bring_refusal(request.user)
        if refusal is not None:
            status, words = refusal
            form.add_error(None, words)
        else:
            try:
                move = move_request(owner=request.user, source=form.cleaned_data["source"])
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                return redirect("move-in", move_in_id=move.public_id)
    moves_out = list(selectors.moves_out_waiting(viewer=request.user))
    waiting = Counter(move.twin_id for move in moves_out if move.state == MoveOut.State.REQUESTED)
    for move in moves_out:
        move.open_for_twin = waiting[move.twin_id] if move.state == MoveOut.State.REQUESTED else 0
    context = {
        "form": form,
        "moves_in": selectors.moves_in(viewer=request.user)[:50],
        "moves_out": moves_out,
    }
    return render(request, "moves/moves.html", context, status=status if status != 200 else 400 if form.errors else 200)


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


def _open_requests(move: MoveOut) -> int:
    """How many requests to move this thing wait for its owner (this one included, while it waits)."""
    return MoveOut.objects.filter(
        twin_id=move.twin_id, state=MoveOut.State.REQUESTED, expires_at__gt=timezone.now()
    ).count()


def _move_out_render(
    request: HttpRequest, move: MoveOut, *, pairing_form: PairingForm | None = None, status: int = 200
) -> HttpResponse:
    expired = move.state == MoveOut.State.REQUESTED and move.expires_at <= timezone.now()
    yours = move.twin.owner_id == request.user.pk
    blocked = None
    signs_offline = False
    if move.state == MoveOut.State.REQUESTED and not expired:
        blocked = why_not(move, move.twin)
        signs_offline = not blocked and self_held.owner_signs_offline(move)
    context = {
        "move": move,
        "twin": move.twin,
        # Its name only while it is the viewer's: a thing that came back under another owner has their name now.
        "thing_name": move.twin.name if yours else "this thing",
        "thing_subject": move.twin.name if yours else "This thing",
        "expired": expired,
        "blocked": blocked,
        "what_moves": selectors.what_moves(),
        "fresh_login": is_recent(request),
        "signs_offline": signs_offline,
        "open_requests": _open_requests(move) if move.state == MoveOut.State.REQUESTED else 0,
        "pairing_form": pairing_form or PairingForm(),
        "reveal_form": RevealKeyForm(),
        "sign_form": SignedJsonForm(),
    }
    return render(request, "moves/move_out.html", context, status=status)


@login_required
def move_out_page(request: HttpRequest, move_out_id: str) -> HttpResponse:
    """The owner's confirmation: where the thing would go, what goes with it, and the pairing code to type."""
    move = selectors.move_out_get(viewer=request.user, move_id=move_out_id)
    return _move_out_render(request, move)


def _confirm_with_code(request: HttpRequest, move: MoveOut, signed_entries: object = None) -> HttpResponse | None:
    """Confirm ``move`` with the pairing code posted; None when confirmed, else the page again (400) saying why.
    Other refusals (410: the request ended, or the code was wrong too often) go to the error page, in words."""
    form = PairingForm(request.POST)
    if form.is_valid():
        try:
            move_confirm(
                move_out=move,
                by=request.user,
                pairing_code=form.cleaned_data["pairing_code"],
                signed_entries=signed_entries,
            )
        except MoveRefused as exc:
            if exc.status != 400:
                raise
            form.add_error("pairing_code", exc.message)
        else:
            return None
    move.refresh_from_db()
    return _move_out_render(request, move, pairing_form=form, status=400)


@login_required
@recent_login_required
@require_POST
def move_out_confirm(request: HttpRequest, move_out_id: str) -> HttpResponse:
    move = selectors.move_out_get(viewer=request.user, move_id=move_out_id)
    refused = _confirm_with_code(request, move)
    if refused is not None:
        return refused
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
    refused = _confirm_with_code(request, move, signed_entries=signed)
    if refused is not None:
        return refused
    messages.success(request, f"Signed and confirmed. {move.twin.name} is on its way to {move.destination_host}.")
    return redirect("move-out", move_out_id=move.public_id)


@login_required
@require_POST
def move_out_cancel(request: HttpRequest, move_out_id: str) -> HttpResponse:
    move = selectors.move_out_get(viewer=request.user, move_id=move_out_id)
    move_cancel(move=move, by=request.user)
    messages.success(request, f"Cancelled. {move.twin.name} stays here.")
    return redirect("move-out", move_out_id=move.public_id)
