from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, PasswordResetView
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.errors import error_response
from core.forms import apply_errors
from core.middleware import TIME_ZONE_COOKIE
from core.ratelimit import CLOSED, RateLimitUnavailable, client_id, hit, hit_many, secret_key_id, wait_text
from owners import selectors, services
from owners.forms import ContactCardForm, SelfHeldKeyForm, SignupForm, TimeZoneForm
from owners.keys import SelfHeldKeyRequired, owner_private_key_export, owner_register_self_held
from owners.models import OwnerKey
from owners.next_context import describe_next
from owners.recent_auth import recent_login_required
from owners.time_zones import zone_names


def _unavailable(request: HttpRequest, refused: RateLimitUnavailable) -> HttpResponse:
    return error_response(
        request,
        503,
        "This is briefly unavailable while we recover from a fault. Nothing was sent or saved: "
        f"please try again {wait_text(refused.retry_after)}.",
        retry_after=refused.retry_after,
    )


def _safe_next(request: HttpRequest) -> str:
    """The `next` page to continue to (a link that needed an account), if it is one of ours; else ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _next_context(request: HttpRequest, target: str) -> dict:
    """What the login and sign-up pages say about the page waiting behind them, and links that keep `next`."""
    query = f"?{urlencode({'next': target})}" if target else ""
    return {
        "next": target,
        "next_context": describe_next(request, urlsplit(target).path) if target else None,
        "signup_url": reverse("signup") + query,
        "login_url": reverse("login") + query,
    }


class OwnerLoginView(LoginView):
    """Django's login, telling a person who followed a link (a transfer offer) what waits after it, with a
    sign-up link that keeps `next`, so a new account lands on that page too."""

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context.update(_next_context(self.request, context.get(self.redirect_field_name) or ""))
        return context


def signup(request: HttpRequest) -> HttpResponse:
    target = _safe_next(request)
    if request.user.is_authenticated:
        return redirect(target or "things")
    if request.method == "POST":
        # CLOSED while Redis is down: accounts made unchecked are not undone cheaply (core.ratelimit).
        try:
            retry = hit("signup", client_id(request), settings.RATE_SIGNUP_PER_CLIENT, outage=CLOSED)
        except RateLimitUnavailable as refused:
            return _unavailable(request, refused)
        if retry is not None:
            message = f"Too many new accounts were made from your connection. Try again {wait_text(retry)}."
            return error_response(request, 429, message, retry_after=retry)
    # The browser's zone, when an earlier page set the cookie (else tz.js fills the select on this page).
    browser_zone = request.COOKIES.get(TIME_ZONE_COOKIE, "")
    form = SignupForm(request.POST or None, initial={"time_zone": browser_zone if browser_zone in zone_names() else ""})
    if request.method == "POST" and form.is_valid():
        owner = services.owner_signup(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            time_zone=form.cleaned_data["time_zone"],
        )
        login(request, owner, backend="django.contrib.auth.backends.ModelBackend")
        if target:
            messages.success(request, "Welcome to Thingstead.")
            return redirect(target)
        messages.success(request, "Welcome to Thingstead. Add your first thing.")
        return redirect("thing-new")
    context = {"form": form, **_next_context(request, target)}
    return render(request, "registration/signup.html", context, status=400 if form.errors else 200)


class RateLimitedPasswordResetView(PasswordResetView):
    """Django's password reset, limited per client address and per email address asked for, so nobody can
    flood someone's inbox. Counted for any address, registered or not: the answer must not tell which are."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        email = request.POST.get("email", "").strip().casefold()
        events = [
            (client_id(request), settings.RATE_PASSWORD_RESET_PER_CLIENT),
            (secret_key_id(f"reset:{email}"), settings.RATE_PASSWORD_RESET_PER_EMAIL),
        ]
        # CLOSED while Redis is down: each request mails a third party (core.ratelimit).
        try:
            per_client, per_email = hit_many("password-reset", events, outage=CLOSED)
        except RateLimitUnavailable as refused:
            return _unavailable(request, refused)
        if per_email is not None:
            message = (
                "Several reset emails were sent to this address recently. Check its inbox and spam folder; "
                f"the link in the last one works. You can ask again {wait_text(per_email)}."
            )
            return error_response(request, 429, message, retry_after=per_email)
        if per_client is not None:
            message = f"Too many password reset requests from your connection. Try again {wait_text(per_client)}."
            return error_response(request, 429, message, retry_after=per_client)
        return super().post(request, *args, **kwargs)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ContactCardForm(request.POST or None, instance=request.user)
    zone_form = TimeZoneForm(initial={"time_zone": request.user.time_zone})
    if request.method == "POST":
        if form.is_valid():
            services.owner_update_contact(owner=request.user, **{key: form.cleaned_data[key] for key in form.fields})
            messages.success(request, "Contact card saved.")
            return redirect("profile")
        return render(request, "owners/profile.html", {"form": form, "zone_form": zone_form, "token": None}, status=400)
    token = selectors.owner_api_token(owner=request.user)
    return render(request, "owners/profile.html", {"form": form, "zone_form": zone_form, "token": token})


@login_required
@require_POST
def profile_time_zone(request: HttpRequest) -> HttpResponse:
    """The owner's own time zone (owners.time_zones), a form of its own on the profile page."""
    zone_form = TimeZoneForm(request.POST)
    if zone_form.is_valid():
        try:
            services.owner_set_time_zone(owner=request.user, time_zone=zone_form.cleaned_data["time_zone"])
        except ValidationError as exc:
            apply_errors(zone_form, exc)
        else:
            zone = request.user.time_zone or "your browser's"
            messages.success(request, f"Time zone saved: dates are now shown in {zone}.")
            return redirect("profile")
    context = {"form": ContactCardForm(instance=request.user), "zone_form": zone_form, "token": None}
    return render(request, "owners/profile.html", context, status=400)


@login_required
@require_POST
def api_token(request: HttpRequest) -> HttpResponse:
    """Create or replace the owner's API token and show it this once (the profile shows only its beginning);
    the old one stops working at once."""
    token = services.owner_api_token_create(owner=request.user)
    response = render(request, "owners/api_token.html", {"token": token})
    response["Cache-Control"] = "no-store"
    return response


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.inbox(owner=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "owners/inbox.html", {"page": page})


@login_required
def inbox_item(request: HttpRequest, notification_id: int) -> HttpResponse:
    item = selectors.notification_get(owner=request.user, notification_id=notification_id)
    if item.read_at is None:
        services.notification_mark_read(owner=request.user, ids=[item.pk])
    return render(request, "owners/inbox_item.html", {"item": item})


@login_required
@require_POST
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    services.notification_mark_read(owner=request.user)
    return redirect("inbox")


def _keys_page(request: HttpRequest, form: SelfHeldKeyForm, status: int = 200) -> HttpResponse:
    owned = selectors.owner_keys_active(owner=request.user)
    context = {"current": owned.get(OwnerKey.Role.CURRENT), "next": owned.get(OwnerKey.Role.NEXT), "form": form}
    return render(request, "owners/keys.html", context, status=status)


@login_required
def keys(request: HttpRequest) -> HttpResponse:
    return _keys_page(request, SelfHeldKeyForm())


@login_required
@recent_login_required
@require_POST
def key_download(request: HttpRequest) -> HttpResponse:
    """The owner's own platform-held private key, as a `python -m ssi.sign` key file."""
    role = request.POST.get("role", OwnerKey.Role.CURRENT)
    if role not in OwnerKey.Role.values:
        return error_response(request, 400, "Choose the current or the next key.")
    try:
        content = owner_private_key_export(owner=request.user, role=role)
    except SelfHeldKeyRequired:
        return error_response(request, 409, "This key is held by you, not by Thingstead: there is nothing to download.")
    response = HttpResponse(content, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="thingstead-{request.user.username}-{role}.key"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@recent_login_required
@require_POST
def key_self_held(request: HttpRequest) -> HttpResponse:
    form = SelfHeldKeyForm(request.POST)
    if form.is_valid():
        try:
            owner_register_self_held(
                owner=request.user,
                public_key=form.cleaned_data["public_key"],
                next_hash=form.cleaned_data["next_key_hash"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Your own keys are registered. Transfers now need your signature.")
            return redirect("owner-keys")
    return _keys_page(request, form, status=400)
