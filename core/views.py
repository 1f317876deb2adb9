from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache

from core.errors import error_response
from core.redis import redis_status


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("things")
    return render(request, "home.html")


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and dependencies for load balancers and monitoring.

    No database: 503, nothing works. Redis unreachable: 200 with "degraded", because every page still answers
    (scans and logins take the cache-less path, rate limits count per process, sign-up and password reset say 503)
    and a 503 here would make the load balancer take every web process out at once, a full outage for a partial
    one. Alert on "degraded" instead.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "database unavailable", "database": "unavailable"}, status=503)
    body = {"status": "ok", "database": "ok"}
    redis = redis_status()
    if redis is not None:
        body["redis"] = redis
        if redis != "ok":
            body["status"] = "degraded"
    return JsonResponse(body)


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
