"""Request-size guard: refuse huge bodies before any view reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.errors import Conflict, error_response


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
            return error_response(request, exception.status, str(exception))
        return None
