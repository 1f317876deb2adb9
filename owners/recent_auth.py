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
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

SESSION_KEY = "auth_at"
# Form choices kept across the login that recent_login_required asked for.
KEPT_KEY = "recent_auth_kept"


@receiver(user_logged_in)
def _remember_login_time(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = int(time.time())


def is_recent(request: HttpRequest) -> bool:
    at = request.session.get(SESSION_KEY)
    return isinstance(at, int) and time.time() - at <= settings.RECENT_AUTH_SECONDS


def recent_login_required(
    view: Callable[..., HttpResponse] | None = None, *, keep: tuple[str, ...] = ()
) -> Callable[..., HttpResponse]:
    """Unsafe methods need a login within RECENT_AUTH_SECONDS; otherwise send to login and change nothing.

    GET stays open so the page that holds the form can explain what is about to happen. `keep` names form fields
    (choices, never secrets) kept in the session across the login, so the page that held the form can show them
    again (`kept_form_data`) instead of a blank form: `@recent_login_required(keep=("redact_kinds", "days"))`.
    """
    if view is None:
        return lambda inner: recent_login_required(inner, keep=keep)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "HEAD") and not is_recent(request):
            messages.info(request, "For your security, confirm your password to continue.")
            # Back to the page that held the form (POST-only URLs cannot be reopened with GET).
            referer = request.META.get("HTTP_REFERER", "")
            target = request.get_full_path()
            if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}):
                # Its query too: the page may be made of it (a handover's things: /handovers/new/?thing=…).
                page = urlsplit(referer)
                target = (page.path + (f"?{page.query}" if page.query else "")) if page.path else target
            if keep:
                data = {field: request.POST.getlist(field)[:20] for field in keep if field in request.POST}
                request.session[KEPT_KEY] = {"path": urlsplit(target).path, "data": data}
            return redirect(f"{reverse('login')}?{urlencode({'next': target})}")
        return view(request, *args, **kwargs)

    return wrapper


def kept_form_data(request: HttpRequest) -> QueryDict | None:
    """The fields `recent_login_required(keep=...)` kept when it sent this page's form to the login, once.

    Only for the page the form came from (the login's `next`): taken out of the session on the first GET of it.
    """
    kept = request.session.get(KEPT_KEY)
    if not isinstance(kept, dict) or kept.get("path") != request.path:
        return None
    del request.session[KEPT_KEY]
    data = QueryDict(mutable=True)
    for field, values in (kept.get("data") or {}).items():
        data.setlist(field, [str(value) for value in values])
    return data
