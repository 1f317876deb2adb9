"""One error shape for HTML and JSON: {"message": "...", "extra": {...}}."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string


class Conflict(Exception):
    """A domain refusal any view or API may hit: the request conflicts with the state of what it names (409, or the
    status a refusal names: a transfer offer that expired is a 410).

    Features subclass it (twins.history.TwinDeactivated, twins.transfer.TransferRefused); the middleware and the
    API exception handler turn it into its status with its message and `extra`, so no view or API needs to catch
    the subclasses to answer them.
    """

    status = 409
    message = "This conflicts with the current state of what you asked about."
    # Seconds after which trying again may work (a refusal of a passing state, such as a thing on its way to another
    # host): sent as the Retry-After header.
    retry_after: int | None = None

    def __init__(self, message: str | None = None, *, status: int | None = None, extra: dict | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.status = status or type(self).status
        self.extra = extra or {}


class NotFoundExplained(Http404):
    """A 404 that tells someone who once had access why the page is gone ("this thing is no longer yours").

    Still an Http404 (DRF and any caller treat it as one), but the middleware renders the project's own page with
    the message, also under DEBUG, where Django would otherwise show its 980 px wide technical 404 page.
    """

    def __init__(self, message: str, *, title: str = "No longer yours") -> None:
        super().__init__(message)
        self.title = title


TITLES = {
    400: "That did not work",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    429: "Slow down",
    500: "Something broke",
    503: "Try again shortly",
}


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or ("application/json" in accept and "text/html" not in accept)


def error_response(
    request: HttpRequest,
    status: int,
    message: str,
    *,
    extra: dict | None = None,
    retry_after: int | None = None,
    template: str = "error.html",
    context: dict | None = None,
) -> HttpResponse:
    """Render an error the person can act on, as a page or as JSON depending on who asked."""
    if wants_json(request):
        response: HttpResponse = JsonResponse({"message": message, "extra": extra or {}}, status=status)
    else:
        page_context = {"status": status, "title": TITLES.get(status, "Error"), "message": message}
        page_context.update(context or {})
        response = HttpResponse(render_to_string(template, page_context, request=request), status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response
