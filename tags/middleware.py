"""The finder's shortcut: a stranger's plain scan of a tag whose page is kept answers before the rest of the stack.

A finder opening `/t/<token>` is the hottest request the product serves, and for the usual finder (no session, the
page kept in Redis by tags.public_cache) the whole answer is what one Lua script returns (tags.scan_buffer.scan_hit:
the rate limit counted, the page fetched, the scan buffered). Django's full path around it (sessions, CSRF,
authentication, time zone, messages, the URL resolver, the view's decorators) adds nothing to that answer but
headers, so :class:`FinderScanMiddleware`, placed in MIDDLEWARE right after BodySizeLimitMiddleware, answers such a
request itself and adds the same headers the skipped layers would have added:

- `Expires`, `Cache-Control` of the view's ``never_cache``;
- `X-Frame-Options` (XFrameOptionsMiddleware's own method) and `Content-Length` (CommonMiddleware's own method);
- `Vary: Cookie`, which SessionMiddleware adds because the full path reads the (empty) session to know the viewer.

The layers above it (SecurityMiddleware: HTTPS redirect, HSTS, nosniff, Referrer-Policy, COOP; the CSP middleware;
WhiteNoise; the body size limit) run for it as for any request. tests/tags/test_finder_shortcut.py compares its
answer with the full path's, header by header.

Anything else goes on down the full path, which answers it as it always did: another method (HEAD included), a
query string (an NFC tap's marker or SUN parameters), any cookie but the time zone's (a session: an owner gets the
reading form, a keeper theirs, and a stale session cookie is deleted; a CSRF cookie that the full path would
renew), a host not in ALLOWED_HOSTS, a page not kept (an unknown token's 404, a moved thing's 308, a retired tag's
410, a leaving thing, the first scan after a change: the full path renders and keeps it), a client over its budget
(the 429 with Retry-After), Redis unreachable or not configured. See tags.services.finder_scan_kept for how the
scan is counted in each case.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from core.middleware import TIME_ZONE_COOKIE
from core.ratelimit import client_id
from tags.services import finder_scan_kept

# tags.urls "tag-scan": the resolver's <str:token> is one path segment.
_SCAN_PATH = re.compile(r"/t/([^/]+)")
# Cookies the full path's answer to an anonymous finder does not depend on (the page is the same whatever zone).
_IGNORED_COOKIES = frozenset({TIME_ZONE_COOKIE})


class FinderScanMiddleware:
    """Answer a finder's scan of a kept page from the scan script alone (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._x_frame_options = XFrameOptionsMiddleware(get_response).process_response
        self._content_length = CommonMiddleware(get_response).process_response
        # CommonMiddleware's own refusals and redirects: with any of them configured, leave it all to the full path.
        self._enabled = not (settings.DISALLOWED_USER_AGENTS or settings.PREPEND_WWW)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self._finder_page(request) or self.get_response(request)

    def _finder_page(self, request: HttpRequest) -> HttpResponse | None:
        if not self._enabled or request.method != "GET" or request.META.get("QUERY_STRING"):
            return None
        match = _SCAN_PATH.fullmatch(request.path_info)
        if match is None or not _IGNORED_COOKIES.issuperset(request.COOKIES):
            return None
        try:
            request.get_host()  # the full path's CommonMiddleware refuses a host not in ALLOWED_HOSTS (400)
        except DisallowedHost:
            return None
        html = finder_scan_kept(
            token=match[1], client=client_id(request), user_agent=request.headers.get("User-Agent", "")
        )
        if html is None:
            return None
        # In the order the full path adds them: the view, its never_cache, then the middleware on the way out.
        response = HttpResponse(html)
        add_never_cache_headers(response)
        response = self._x_frame_options(request, response)
        response = self._content_length(request, response)
        patch_vary_headers(response, ("Cookie",))
        return response
