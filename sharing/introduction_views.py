"""Pages of introductions: the owner's list, one introduction (accept or decline), and the "Introduce me" button
of a thing's page. Views parse, call one service or selector, and render; the services decide (a decided
introduction is a 409, someone else's a 404)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import error_response
from sharing import introductions
from twins.selectors import twin_get

# What the party's asks mean, for the owner (sharing.models.DATA_KINDS).
KIND_NAMES = {
    "readings": "its readings",
    "diagnostics": "diagnostics (errors, faults, battery)",
    "usage": "usage counters",
    "scans": "when its tags are scanned",
    "journal": "your journal entries about it",
    "location": "where it is",
}


def kind_name(kind: str) -> str:
    base, _, sub = kind.partition(":")
    if sub:
        return f"its {sub} readings"
    return KIND_NAMES.get(base, kind)


@login_required
@require_GET
def introduction_list(request: HttpRequest) -> HttpResponse:
    items = introductions.introduction_list(viewer=request.user)
    return render(request, "sharing/introduction_list.html", {"introductions": items})


@login_required
@require_GET
def introduction_detail(request: HttpRequest, introduction_id: int) -> HttpResponse:
    introduction = introductions.introduction_get(viewer=request.user, introduction_id=introduction_id)
    if introduction.state == introduction.State.ARRANGING:
        # The owner has not been asked yet: nothing to decide (and nothing the party said to show).
        return error_response(request, 404, "No such introduction.")
    asks = [kind_name(kind) for kind in introduction.asks_for]
    return render(request, "sharing/introduction_detail.html", {"introduction": introduction, "asks": asks})


@login_required
@require_POST
def introduction_accept(request: HttpRequest, introduction_id: int) -> HttpResponse:
    introduction = introductions.introduction_accept(owner=request.user, introduction_id=introduction_id)
    if introduction.state == introduction.State.FAILED:
        messages.error(request, f"The invitation of {introduction.party_label} could not be used; nothing was shared.")
    else:
        messages.success(request, f"Connecting you with {introduction.party_label}.")
    return redirect("introduction", introduction.pk)


@login_required
@require_POST
def introduction_decline(request: HttpRequest, introduction_id: int) -> HttpResponse:
    introduction = introductions.introduction_decline(owner=request.user, introduction_id=introduction_id)
    messages.success(request, f"Declined. {introduction.party_label} learns nothing about you.")
    return redirect("introduction", introduction.pk)


@login_required
@require_POST
def thing_introduce(request: HttpRequest, slug: str) -> HttpResponse:
    twin = twin_get(viewer=request.user, slug=slug)
    try:
        introduction = introductions.introduce_twin(twin=twin)
    except introductions.IntroductionRefused as exc:
        return error_response(request, 400, str(exc))
    messages.success(
        request, f"{twin.name} is asking {introduction.party_label}; you decide once they answer (see your inbox)."
    )
    return redirect("thing", twin.slug)
