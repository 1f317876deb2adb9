"""Fresh login for sensitive steps (transfer offers and confirmations, private key download): SECURITY 26."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

SESSION_KEY = "auth_at"


@receiver(user_logged_in)
def _remember_login_time(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = int(time.time())


def is_recent(request: HttpRequest) -> bool:
    at = request.session.get(SESSION_KEY)
    return isinstance(at, int) and time.time() - at <= settings.RECENT_AUTH_SECONDS


def recent_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Unsafe methods need a login within RECENT_AUTH_SECONDS; otherwise send to login and change nothing.

    GET stays open so the page that holds the form can explain what is about to happen.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "HEAD") and not is_recent(request):
            messages.info(request, "For your security, confirm your password to continue.")
            # Back to the page that held the form (POST-only URLs cannot be reopened with GET).
            referer = request.META.get("HTTP_REFERER", "")
            target = request.get_full_path()
            if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}):
                target = urlsplit(referer).path or target
            return redirect(f"{reverse('login')}?{urlencode({'next': target})}")
        return view(request, *args, **kwargs)

    return wrapper
