"""What this instance answers for a twin that does not live here (twins.moving): moved away, or still arriving.

Moved away (``moved_to`` set on the source): every page under ``/things/<slug>/`` and every API route under
``/api/things/<slug>/`` answers 308 to the same path and query on the new host, whatever app the route belongs
to, whoever asks (the DID log, public, already names the new host). 308 keeps the method and body, so a client
posting a reading is sent on to where the twin lives. The DID log itself stays served here
(twins.identity_views), now ending with the move entries, for resolvers that still hold the old DID.

Arriving (``arriving`` on the destination): not live yet. Anyone but its owner gets the 404 an unknown thing gets;
its owner gets a page (or, from the API, a 409) saying it is on its way.

Leaving (``leaving_to`` on the source, from the owner's confirmation of a move until the old host lets go:
twins.leaving): still live here, so every GET goes on to its route (the owner sees the thing, and cancels the move
from the moves pages). A write by its owner (POST, PUT, PATCH, DELETE) is answered here with the 503 of
twins.leaving, with Retry-After, as a page or JSON: whatever it would change would stay behind. Anyone else's write
goes on to its route, which answers as for any thing (a stranger's 404; a keeper's write meets the refusal of the
signed history's seam), so the answer tells no stranger that the thing exists or where it goes.

How: :class:`NotLiveMiddleware` (in MIDDLEWARE after AuthenticationMiddleware) looks at every request to
``/things/<slug>/…`` and ``/api/things/<slug>/…``: one probe by the unique slug index (for a write, the same probe
also finds a leaving twin); for a live twin (or none) the request goes on to its route untouched. No route of its
own, so the features' routes need nothing, and a route that answers only for some twins is not added to the URL conf
(where every route must answer for a live one).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from core.errors import Conflict, error_response
from twins import leaving
from twins.models import Twin
from twins.moving import host_of


def moved_redirect(request: HttpRequest, twin: Twin) -> HttpResponse:
    """308 to the same path and query on the host the twin moved to."""
    return HttpResponsePermanentRedirect(twin.moved_to.rstrip("/") + request.get_full_path(), preserve_request=True)


def _arriving_message(twin: Twin) -> str:
    return (
        f"{twin.name} is on its way here from its old host: it will be ready once the old host has let go of it "
        "(usually within minutes). Until then it is not on your list and nobody else can open it."
    )


def page(request: HttpRequest, twin: Twin) -> HttpResponse:
    """A page under /things/<slug>/ of a twin that does not live here."""
    if twin.moved_to:
        return moved_redirect(request, twin)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())  # what the routes' login_required answers
    if twin.owner_id != request.user.pk:
        raise Http404("No such thing.")
    if request.method not in ("GET", "HEAD"):
        return error_response(request, 409, _arriving_message(twin))
    return render(request, "twins/arriving.html", {"twin": twin, "message": _arriving_message(twin)})


class NotLiveApi(APIView):
    """The API's answer for a twin that does not live here, for every method: DRF's own authentication (session or
    token) and error bodies, so an arriving twin's 403/404 are those of a thing that does not exist."""

    permission_classes = [AllowAny]  # a moved twin's 308 is for anyone, as its pages' is

    def get(self, request: Request, twin: Twin) -> HttpResponse:
        if twin.moved_to:
            return moved_redirect(request, twin)
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        if twin.owner_id != request.user.pk:
            raise Http404("No such thing.")
        raise Conflict(_arriving_message(twin), extra={"arriving": True})

    post = put = patch = delete = get


def _sent_by_owner(request: HttpRequest, twin: Twin, *, api: bool) -> bool:
    """Whether ``twin``'s owner sends ``request``: signed in (the session's user), or on the API with their token
    (DRF's TokenAuthentication reads the Authorization header only, never the body the route will read). No CSRF
    check: what is answered is a refusal; nothing is done."""
    if request.user.is_authenticated:
        return request.user.pk == twin.owner_id
    if not api:
        return False
    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return False
    return found is not None and found[0].pk == twin.owner_id


def leaving_answer(request: HttpRequest, twin: Twin) -> HttpResponse:
    """The owner's write to a thing on its way to another host: 503 with Retry-After, in words (twins.leaving)."""
    refusal = leaving.owner_refusal(twin)
    return error_response(
        request, refusal.status, refusal.message, extra=refusal.extra, retry_after=refusal.retry_after
    )


_api = csrf_exempt(NotLiveApi.as_view())  # DRF checks CSRF itself for session-authenticated writes
_PATH = re.compile(r"^/(?P<api>api/)?things/(?P<slug>[A-Za-z0-9_-]{1,32})/")
_NOT_SLUGS = {"new"}  # /things/new/: no thing has that slug (they are 22 random characters)
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The probe of every request to a thing's pages or API: one statement by the unique slug index, answering only for a
# twin that does not live here (twins.models.NOT_LIVE) or, for a write, one that is leaving. Hand-written: Django
# compiling `Twin.objects.not_live().filter(slug=…).first()` (every column, ORDER BY) cost ~1 ms of the worker's
# CPU per request against ~0.1 ms for this (bench/cards.py, status.md 07:13); the whole row is read only when a row
# comes back, which is rare.
_PROBE = f"SELECT id FROM {Twin._meta.db_table} WHERE slug = %s AND (arriving OR moved_to <> '')"  # noqa: S608
_PROBE_WRITE = (
    f"SELECT id FROM {Twin._meta.db_table} WHERE slug = %s AND (arriving OR moved_to <> '' OR leaving_to <> '')"  # noqa: S608
)


def _probe(slug: str, *, write: bool) -> Twin | None:
    """The twin named by ``slug`` if it does not live here (or, for a ``write``, is leaving); None otherwise."""
    with connection.cursor() as cursor:
        cursor.execute(_PROBE_WRITE if write else _PROBE, [slug])
        row = cursor.fetchone()
    return Twin.objects.filter(pk=row[0]).first() if row else None


class NotLiveMiddleware:
    """Answers for a twin that does not live here before any route does (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = _PATH.match(request.path_info)
        if match is not None and match["slug"] not in _NOT_SLUGS:
            twin = _probe(match["slug"], write=request.method in _WRITES)
            if twin is not None and not twin.moved_to and not twin.arriving:  # leaving, and this is a write
                if _sent_by_owner(request, twin, api=bool(match["api"])):
                    return leaving_answer(request, twin)
            elif twin is not None:
                if not match["api"]:
                    return page(request, twin)
                response = _api(request, twin=twin)
                # A DRF Response renders where Django calls views; this one was not called as a view.
                return response.render() if hasattr(response, "render") else response
        return self.get_response(request)


def moved_section(request: HttpRequest, filters) -> str:
    """Above the cards (twins.listing section): the owner's things that moved to another host, and those still
    on their way here. One probe of the partial index twin_not_live_idx."""
    if not request.user.is_authenticated or request.GET.get("cursor"):
        return ""
    gone = list(Twin.objects.not_live().filter(owner=request.user).order_by("-moved_at", "name", "id")[:20])
    if not gone:
        return ""
    moved = [(twin, host_of(twin.moved_to)) for twin in gone if twin.moved_to]
    arriving = [twin for twin in gone if twin.arriving]
    return render_to_string("twins/_moved.html", {"moved": moved, "arriving": arriving}, request=request)
