"""Request guards: body size, password guessing, domain refusals, caching of signed-in pages; the viewer's time
zone."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.apps import apps
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control

from core import ratelimit
from core.errors import Conflict, NotFoundExplained, error_response


class BodySizeLimitMiddleware:
    """Answer 413 when Content-Length is above REQUEST_MAX_BYTES.

    Django's own limits cover form fields, not file uploads, so a 2 GB "photo" would otherwise be
    streamed to disk before the form could say no.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            size = int(length)
        except ValueError:
            return error_response(request, 400, "The Content-Length header is not a number.")
        if size > settings.REQUEST_MAX_BYTES:
            limit_mb = settings.REQUEST_MAX_BYTES // (1024 * 1024)
            return error_response(request, 413, f"The request is too large: the limit is {limit_mb} MB.")
        return self.get_response(request)


class DomainErrorMiddleware:
    """Domain refusals that any view may hit become clear responses instead of 500s."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Conflict):
            return error_response(
                request, exception.status, str(exception), extra=exception.extra, retry_after=exception.retry_after
            )
        if isinstance(exception, NotFoundExplained):
            return error_response(request, 404, str(exception), context={"title": exception.title})
        return None


TIME_ZONE_COOKIE = "tz"
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}$")


@lru_cache(maxsize=256)
def viewer_time_zone(name: str) -> ZoneInfo | None:
    """The IANA time zone a browser reported (static/js/tz.js), or None for anything that is not one."""
    if not name or len(name) > 64 or not _ZONE_NAME.match(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


class TimeZoneMiddleware:
    """Dates and times in the viewer's time zone, the same on every page, table, chart and export: the signed-in
    owner's own zone (their profile's `time_zone`, so the very first page is right), else the browser's zone from
    the `tz` cookie static/js/tz.js sets, else the server's TIME_ZONE (UTC). Runs after AuthenticationMiddleware.
    A bad cookie or a zone this machine no longer knows is ignored, never an error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        own = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        zone = viewer_time_zone(own or "") or viewer_time_zone(request.COOKIES.get(TIME_ZONE_COOKIE, ""))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class LoginRateLimitMiddleware:
    """Password guessing, on every form that checks a password (the site's login and the admin's).

    Two budgets: attempts per client address (RATE_LOGIN_PER_CLIENT), and failed attempts per account name
    (RATE_LOGIN_FAILURES_PER_ACCOUNT), so guesses spread over many addresses still run out. Once an account's
    budget is spent even the right password is refused until the window ends: answering it would tell the
    guesser they found it. A middleware rather than each view, so the admin's login has the same rule.
    While Redis is down both are counted per process (core.ratelimit LOCAL): signing in keeps working.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._paths: frozenset[str] | None = None

    def login_paths(self) -> frozenset[str]:
        if self._paths is None:
            paths = {resolve_url(settings.LOGIN_URL)}
            if apps.is_installed("django.contrib.admin"):
                paths.add(reverse("admin:login"))
            self._paths = frozenset(paths)
        return self._paths

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path not in self.login_paths():
            return self.get_response(request)
        username = request.POST.get("username", "").strip().casefold()
        account = ratelimit.secret_key_id(f"login:{username}")
        retry = ratelimit.hit("login", ratelimit.client_id(request), settings.RATE_LOGIN_PER_CLIENT)
        if retry is not None:
            message = f"Too many sign-in attempts from your connection. Try again {ratelimit.wait_text(retry)}."
            return error_response(request, 429, message, retry_after=retry)
        retry = ratelimit.peek("login-failed", account, settings.RATE_LOGIN_FAILURES_PER_ACCOUNT)
        if retry is not None:
            message = (
                f"Too many failed sign-ins for this account. Try again {ratelimit.wait_text(retry)}, "
                "or reset your password."
            )
            return error_response(request, 429, message, retry_after=retry)
        response = self.get_response(request)
        # The login form shown again (200) means the password was wrong; success redirects.
        if username and response.status_code == 200:
            ratelimit.hit("login-failed", account, settings.RATE_LOGIN_FAILURES_PER_ACCOUNT)
        return response


class PrivateCacheMiddleware:
    """Signed-in pages are one person's: no shared cache (a proxy, a CDN) may keep them, nor the browser's disk
    (the back button on a shared computer after logout). Responses that chose their own Cache-Control keep it
    (a tag's QR download is private and may be kept a day)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Cache-Control" not in response and self._personal(request):
            patch_cache_control(response, private=True, no_store=True)
        return response

    @staticmethod
    def _personal(request: HttpRequest) -> bool:
        if "HTTP_AUTHORIZATION" in request.META:  # an API token
            return True
        # Only a request with a session cookie can be signed in: the anonymous finder's page loads no session.
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return False
        user = getattr(request, "user", None)
        return user is not None and user.is_authenticated
