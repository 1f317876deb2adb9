from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache

from core.errors import error_response


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("things")
    return render(request, "home.html")


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and database reachability for load balancers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, 400, "The request could not be understood. Check what you sent and try again.")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # One body for every unknown, private or foreign id: the response must not tell them apart.
    if request.path.startswith("/api/"):
        return JsonResponse({"message": "Not found.", "extra": {}}, status=404)
    return HttpResponse(render_to_string("404.html", {}, request=None), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"message": "Something went wrong on our side. Nothing was half-saved.", "extra": {}}, status=500
        )
    return HttpResponse(render_to_string("500.html"), status=500)


_CONSTANT_BODY: bytes | None = None


def bench_constant(request: HttpRequest) -> HttpResponse:
    """A constant page of the size given by ?size= (the scan benchmark's baseline). Only with BENCH_ENDPOINTS."""
    global _CONSTANT_BODY
    size = int(request.GET.get("size", "4096"))
    if _CONSTANT_BODY is None or len(_CONSTANT_BODY) != size:
        _CONSTANT_BODY = (b"<!doctype html><title>x</title>" + b"x" * size)[:size]
    return HttpResponse(_CONSTANT_BODY, content_type="text/html; charset=utf-8")
