"""The inbound DIDComm transport (HTTP) and the owner's Connections page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from didcomm import selectors, services
from ssi.envelope import MEDIA_TYPE
from tags.qr import svg_inline
from twins.selectors import twin_get

# What agents send: RFC 0019's media type, the older DIDComm v1 one, and plain JSON (some send that).
ACCEPTED_MEDIA_TYPES = frozenset({MEDIA_TYPE, "application/ssi-agent-wire", "application/json"})


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"message": message, "extra": {}}, status=status)


@csrf_exempt
@require_POST
def inbound(request: HttpRequest) -> HttpResponse:
    """RFC 0019 envelopes over HTTP: 200 with an empty body, as other agents answer; a refusal is a 400
    with the reason. Replies are queued for the outbound transport, not returned here."""
    if not request.body:
        return _refuse(400, "empty body: send an RFC 0019 envelope")
    media_type = request.content_type.lower() if request.content_type else ""
    if media_type not in ACCEPTED_MEDIA_TYPES:
        return _refuse(415, f"send {MEDIA_TYPE}")
    try:
        services.inbound_receive(raw=request.body)
    except services.InboundError as exc:
        return _refuse(400, str(exc))
    return HttpResponse(status=200)


@login_required
@require_http_methods(["GET", "POST"])
def connections(request: HttpRequest, slug: str) -> HttpResponse:
    twin = twin_get(viewer=request.user, slug=slug)
    agent = services.agent_for_twin(twin)
    if request.method == "POST":
        services.invitation_create(agent=agent)
        return redirect("thing-connections", slug=twin.slug)
    invitation = selectors.invitation_latest(agent=agent)
    context = {
        "twin": twin,
        "invitation": invitation,
        "invitation_qr": svg_inline(invitation.invitation_url) if invitation else "",
        "connections": selectors.connection_list(agent=agent),
        "messages_received": selectors.inbound_list(agent=agent)[:100],
    }
    return render(request, "didcomm/connections.html", context)
