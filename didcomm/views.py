"""The inbound DIDComm transport (HTTP), and the Connections pages of a twin's agent and of an owner's own."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.qr import svg_inline
from didcomm import selectors, services, tasks, timeline
from didcomm.exchange import InvitationError
from didcomm.forms import BasicMessageForm, InvitationAcceptForm
from didcomm.inbound import InboundError, Moved, NotYetHere, RateLimited
from didcomm.models import Agent, Connection
from owners.models import Owner
from ssi import oob
from ssi.envelope import MEDIA_TYPE
from twins.models import Twin
from twins.selectors import twin_get, twin_list

logger = logging.getLogger(__name__)

# What agents send: RFC 0019's media type, the older DIDComm v1 one, and plain JSON (some send that).
ACCEPTED_MEDIA_TYPES = frozenset({MEDIA_TYPE, "application/ssi-agent-wire", "application/json"})


# Seconds a sender is asked to wait while the twin it writes to is still arriving from another instance.
NOT_YET_HERE_RETRY = 60

# The largest envelope POST /didcomm/ reads (the WebSocket takes frames up to didcomm.transport's limit).
MAX_BODY = 1024 * 1024


def _refuse(status: int, message: str, extra: dict | None = None) -> JsonResponse:
    return JsonResponse({"message": message, "extra": extra or {}}, status=status)


def _too_large(size: int | None) -> JsonResponse:
    # One line, not Django's RequestDataTooBig traceback: a big body is the sender's mistake, not ours.
    logger.warning("DIDComm inbound: a body of %s bytes refused (over %s)", size if size is not None else "?", MAX_BODY)
    return _refuse(413, "the envelope is too large: at most 1 MiB", {"limit_bytes": MAX_BODY})


def _body(request: HttpRequest) -> bytes | JsonResponse:
    """The body, or the 413 for one over MAX_BODY (declared, or counted as Django reads it)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _refuse(400, "the Content-Length header is not a number")
    if declared > MAX_BODY:
        return _too_large(declared)
    try:
        body = request.body
    except RequestDataTooBig:
        return _too_large(None)
    if len(body) > MAX_BODY:
        return _too_large(len(body))
    return body


@csrf_exempt
@require_http_methods(["GET", "POST"])
def inbound(request: HttpRequest) -> HttpResponse:
    """RFC 0019 envelopes over HTTP: 200 with an empty body, as other agents answer; a refusal is a 400
    with the reason (413 over 1 MiB, 429 over a rate limit, with Retry-After; 503 with Retry-After while the
    database is unavailable, or while the twin is still arriving from another instance; for a twin that moved
    away, 200 if its peer was answered with a problem report, else 410). Replies are queued for the outbound
    transport, not returned here.

    A GET is a person who opened an invitation link (``?oob=``) in a browser: they get a page about it."""
    if request.method == "GET":
        if "oob" not in request.GET:
            return HttpResponseNotAllowed(["POST"])
        return invitation_page(request)
    body = _body(request)
    if isinstance(body, HttpResponse):
        return body
    if not body:
        return _refuse(400, "empty body: send an RFC 0019 envelope")
    media_type = request.content_type.lower() if request.content_type else ""
    if media_type not in ACCEPTED_MEDIA_TYPES:
        return _refuse(415, f"send {MEDIA_TYPE}")
    try:
        tasks.receive(raw=body)
    except RateLimited as exc:
        response = _refuse(429, str(exc), {"retry_after": exc.retry_after})
        response["Retry-After"] = str(exc.retry_after)
        return response
    except Moved as exc:
        # Answered with a problem report: delivered as far as the peer's transport is concerned (a 4xx would have
        # it send the same message again, only to be told again). Anyone else learns where the thing went.
        if exc.answered:
            return HttpResponse(status=200)
        return _refuse(410, str(exc), {"moved_to": exc.moved_to})
    except NotYetHere as exc:
        response = _refuse(503, str(exc), {"retry_after": NOT_YET_HERE_RETRY})
        response["Retry-After"] = str(NOT_YET_HERE_RETRY)
        return response
    except InboundError as exc:
        return _refuse(400, str(exc))
    except (OperationalError, InterfaceError):
        # The database is away (restart, failover): the sender sends the message again later. Should it have been
        # committed before the connection broke, the copy is recognised by its @id (SECURITY 14).
        logger.warning("DIDComm inbound: the database is unavailable; answered 503")
        response = _refuse(503, "the database is unavailable: send the message again later", {"retry_after": 5})
        response["Retry-After"] = "5"
        return response
    return HttpResponse(status=200)


def invitation_page(request: HttpRequest) -> HttpResponse:
    """An invitation link opened in a browser: who invites, and (signed in) which of your agents accepts it."""
    url = request.build_absolute_uri()
    try:
        invitation = oob.parse_url(url)
    except oob.OOBError as exc:
        context = {"title": "Not a valid invitation", "message": f"This link is not a valid invitation: {exc}."}
        return render(request, "error.html", context, status=400)
    things = twin_list(viewer=request.user) if request.user.is_authenticated else Twin.objects.none()
    context = {
        "invitation": invitation,
        "invitation_url": url,
        "things": things.filter(deactivated_at__isnull=True)[:200],
        "accept_form": InvitationAcceptForm(initial={"invitation_url": url}),
    }
    return render(request, "didcomm/invitation.html", context)


# -- the Connections pages: one set of views for a twin's agent and for the owner's own -----------------------


@dataclass(frozen=True)
class Scope:
    """Whose agent a Connections page shows: a twin's (``/things/<slug>/connections/``, the twin already checked
    to be the viewer's) or the signed-in owner's own (``/profile/connections/``). ``agent`` is ``None`` until a
    write makes it: viewing a page writes nothing."""

    owner: Owner
    twin: Twin | None
    agent: Agent | None

    @property
    def route(self) -> str:
        return "thing" if self.twin is not None else "owner"

    @property
    def kwargs(self) -> dict[str, str]:
        return {"slug": self.twin.slug} if self.twin is not None else {}

    def url(self, name: str, **kwargs: int) -> str:
        return reverse(f"{self.route}-{name}", kwargs={**self.kwargs, **kwargs})

    def context(self) -> dict:
        twin = self.twin
        return {
            "twin": twin,
            "scope_title": twin.name if twin is not None else "your own agent",
            "base_url": self.url("connections"),
            "back_url": reverse("thing", kwargs=self.kwargs) if twin is not None else reverse("profile"),
            "back_label": f"Back to {twin.name}" if twin is not None else "Back to your profile",
        }


def _scope(request: HttpRequest, slug: str | None) -> Scope:
    twin = twin_get(viewer=request.user, slug=slug) if slug is not None else None
    return Scope(owner=request.user, twin=twin, agent=selectors.agent_find(owner=request.user, twin=twin))


def _list_page(request: HttpRequest, scope: Scope, accept_form: InvitationAcceptForm) -> HttpResponse:
    overview = selectors.agent_overview(agent=scope.agent)
    invitation = overview.invitation
    context = {
        **scope.context(),
        "invitation": invitation,
        "invitation_qr": svg_inline(invitation.invitation_url) if invitation else "",
        "connections": overview.connections,
        "activity": overview.activity,
        "accept_form": accept_form,
    }
    return render(request, "didcomm/connections.html", context, status=400 if accept_form.errors else 200)


@login_required
@require_GET
def connections(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    return _list_page(request, _scope(request, slug), InvitationAcceptForm())


@login_required
@require_POST
def invitation_create(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    scope = _scope(request, slug)
    services.agent_invitation_create(owner=scope.owner, twin=scope.twin)
    messages.success(request, "New invitation created: show the QR code or share the link.")
    return redirect(scope.url("connections"))


@login_required
@require_POST
def invitation_accept(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    scope = _scope(request, slug)
    form = InvitationAcceptForm(request.POST)
    if form.is_valid():
        try:
            connection = services.agent_invitation_accept(
                owner=scope.owner, twin=scope.twin, invitation_url=form.cleaned_data["invitation_url"]
            )
        except InvitationError as exc:
            form.add_error("invitation_url", str(exc))
        else:
            messages.success(request, "Invitation accepted: the connection completes when the other agent answers.")
            return redirect(scope.url("connection", connection_id=connection.pk))
    return _list_page(request, scope, form)


def _detail_page(
    request: HttpRequest, scope: Scope, connection: Connection, message_form: BasicMessageForm, status: int = 200
) -> HttpResponse:
    context = {
        **scope.context(),
        "connection": connection,
        "refusal": selectors.send_refusal(connection),
        "activity": selectors.activity_list(agent=scope.agent, connection=connection),
        "message_form": message_form,
    }
    return render(request, "didcomm/connection.html", context, status=status)


@login_required
@require_GET
def connection_detail(request: HttpRequest, connection_id: int, slug: str | None = None) -> HttpResponse:
    scope = _scope(request, slug)
    connection = selectors.connection_get(agent=scope.agent, connection_id=connection_id)
    return _detail_page(request, scope, connection, BasicMessageForm())


@login_required
@require_POST
def connection_message(request: HttpRequest, connection_id: int, slug: str | None = None) -> HttpResponse:
    scope = _scope(request, slug)
    form = BasicMessageForm(request.POST)
    if form.is_valid():
        try:
            services.connection_message_send(
                agent=scope.agent, connection_id=connection_id, content=form.cleaned_data["content"]
            )
        except services.SendRefused:
            pass  # the page says why, above the (then hidden) form
        else:
            messages.success(request, "Message queued for delivery.")
            return redirect(scope.url("connection", connection_id=connection_id))
    connection = selectors.connection_get(agent=scope.agent, connection_id=connection_id)
    return _detail_page(request, scope, connection, form, status=400)


@login_required
@require_POST
def connection_ping(request: HttpRequest, connection_id: int, slug: str | None = None) -> HttpResponse:
    scope = _scope(request, slug)
    try:
        services.connection_ping_send(agent=scope.agent, connection_id=connection_id)
    except services.SendRefused:
        connection = selectors.connection_get(agent=scope.agent, connection_id=connection_id)
        return _detail_page(request, scope, connection, BasicMessageForm(), status=400)
    messages.success(request, "Ping sent: the round-trip time shows when the answer arrives.")
    return redirect(scope.url("connection", connection_id=connection_id))


@login_required
@require_http_methods(["GET", "POST"])
def connection_remove(request: HttpRequest, connection_id: int, slug: str | None = None) -> HttpResponse:
    """GET asks for confirmation; POST removes (the connection's keys stop opening anything)."""
    scope = _scope(request, slug)
    if request.method == "GET":
        connection = selectors.connection_get(agent=scope.agent, connection_id=connection_id)
        return render(request, "didcomm/connection_remove.html", {**scope.context(), "connection": connection})
    connection = services.connection_remove(agent=scope.agent, connection_id=connection_id)
    messages.success(request, f"Connection with {timeline.peer_name(connection)} removed.")
    return redirect(scope.url("connections"))
