"""Pages of keepers, service access and emergency access. Views parse, call one service or selector, render.

The owner's pages go through twins.selectors.twin_get with its default need (the owner): a keeper or a service
party gets the same 404 as a stranger. The rescuer's page is public; its token is the authority.
"""

from __future__ import annotations

import json
import uuid

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import qr
from core.errors import error_response
from core.forms import IdsChoiceField
from core.ratelimit import client_id, hit, wait_text
from credentials import access_selectors, emergency, keepers, selectors, services
from credentials.forms import PresentForm, VerifyForm
from credentials.models import AccessCredential, EmergencyAccess
from credentials.services import CredentialRefused
from twins import access
from twins.models import Twin
from twins.selectors import twin_get

# --- forms ---------------------------------------------------------------------------------------------------


class KeeperForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Their account name on this site.")
    days = forms.IntegerField(
        label="For how many days",
        required=False,
        min_value=1,
        max_value=keepers.KEEPER_MAX_DAYS,
        help_text="Leave empty to keep it until you revoke it.",
    )


class ServiceForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="The manufacturer's or repairer's account name here.")
    capabilities = forms.MultipleChoiceField(
        label="It allows",
        choices=list(access.CAPABILITIES.items()),
        widget=forms.CheckboxSelectMultiple,
        initial=[access.VIEW, access.READINGS_READ],
    )
    hours = forms.IntegerField(label="For how many hours", min_value=1, max_value=keepers.SERVICE_MAX_HOURS, initial=24)


class EmergencyForm(forms.Form):
    recipient = forms.CharField(max_length=120, label="Who it is for", help_text="For example Mountain rescue.")
    things = IdsChoiceField(queryset=Twin.objects.none(), widget=forms.CheckboxSelectMultiple, label="Which things")
    kinds = forms.CharField(
        max_length=400,
        label="Which kinds of reading",
        help_text="Separated by commas, for example location, glucose. Nothing else is shown.",
    )
    hours = forms.IntegerField(label="For how many hours", min_value=1, max_value=emergency.MAX_HOURS, initial=4)

    def __init__(self, *args, owner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["things"].queryset = Twin.objects.owned_by(owner).active().order_by("name", "id")

    def clean_kinds(self) -> list[str]:
        try:
            return emergency.clean_kinds(self.cleaned_data["kinds"].split(","))
        except CredentialRefused as exc:
            raise forms.ValidationError(exc.message) from None


# --- keepers and service access (the owner's pages) -----------------------------------------------------------

ROLE_PAGES = {AccessCredential.Role.KEEPER: "thing-keepers", AccessCredential.Role.SERVICE: "thing-service-access"}


def _access_page(request: HttpRequest, twin: Twin, role: str, form: forms.Form, template: str) -> HttpResponse:
    context = {
        "twin": twin,
        "form": form,
        "credentials": keepers.credentials_of_twin(twin=twin, role=role),
        "capability_labels": access.CAPABILITIES,
        "now": timezone.now(),
    }
    return render(request, template, context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def thing_keepers(request: HttpRequest, slug: str) -> HttpResponse:
    twin = twin_get(viewer=request.user, slug=slug)
    form = KeeperForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["days"]
        try:
            credential = keepers.access_credential_issue(
                twin=twin,
                issued_by=request.user,
                holder=keepers.holder_by_username(form.cleaned_data["username"]),
                role=AccessCredential.Role.KEEPER,
                capabilities=keepers.KEEPER_CAPABILITIES,
                expires_at=keepers.expiry_after(days=days) if days else None,
            )
        except CredentialRefused as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{credential.holder.username} keeps {twin.name} now.")
            return redirect("thing-keepers", slug=twin.slug)
    return _access_page(request, twin, AccessCredential.Role.KEEPER, form, "credentials/keeper_list.html")


@login_required
@require_http_methods(["GET", "POST"])
def thing_service_access(request: HttpRequest, slug: str) -> HttpResponse:
    twin = twin_get(viewer=request.user, slug=slug)
    form = ServiceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            credential = keepers.access_credential_issue(
                twin=twin,
                issued_by=request.user,
                holder=keepers.holder_by_username(form.cleaned_data["username"]),
                role=AccessCredential.Role.SERVICE,
                capabilities=form.cleaned_data["capabilities"],
                expires_at=keepers.expiry_after(hours=form.cleaned_data["hours"]),
            )
        except CredentialRefused as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{credential.holder.username} has service access to {twin.name} now.")
            return redirect("thing-service-access", slug=twin.slug)
    return _access_page(request, twin, AccessCredential.Role.SERVICE, form, "credentials/service_list.html")


@login_required
@require_POST
def thing_access_revoke(request: HttpRequest, slug: str) -> HttpResponse:
    twin = twin_get(viewer=request.user, slug=slug)
    try:
        credential_id = uuid.UUID(request.POST.get("credential", ""))
    except ValueError:
        return error_response(request, 400, "Say which credential to revoke.")
    credential = (
        AccessCredential.objects.filter(twin=twin, pk=credential_id)
        .exclude(role=AccessCredential.Role.EMERGENCY)
        .select_related("twin", "holder")
        .first()
    )
    if credential is None:
        raise Http404("No such credential.")
    keepers.access_credential_revoke(credential=credential)
    messages.success(request, f"Revoked: {credential.holder.username} can no longer act on {twin.name}.")
    return redirect(ROLE_PAGES[credential.role], slug=twin.slug)


# --- emergency access ----------------------------------------------------------------------------------------


@login_required
@require_GET
def emergency_grants(request: HttpRequest) -> HttpResponse:
    grants = list(emergency.grant_list(viewer=request.user)[:50])
    rows = [{"grant": grant, "log": emergency.access_log(grant=grant)} for grant in grants]
    return render(request, "credentials/emergency_list.html", {"rows": rows, "now": timezone.now()})


@login_required
@require_http_methods(["GET", "POST"])
def emergency_new(request: HttpRequest) -> HttpResponse:
    form = EmergencyForm(request.POST or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            grant, token = emergency.emergency_grant_create(
                guardian=request.user,
                recipient=data["recipient"],
                twins=list(data["things"]),
                kinds=data["kinds"],
                hours=data["hours"],
            )
        except CredentialRefused as exc:
            form.add_error(None, exc.message)
        else:
            # Shown once: only the token's hash is kept, so this page cannot be shown again.
            link = settings.SITE_URL + reverse("emergency-view", args=[token])
            response = render(
                request,
                "credentials/emergency_created.html",
                {"grant": grant, "link": link, "qr_svg": qr.svg_inline(link)},
            )
            add_never_cache_headers(response)
            return response
    context = {"form": form, "suggested_kinds": emergency.reading_kinds_of(viewer=request.user)}
    return render(request, "credentials/emergency_form.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def emergency_revoke(request: HttpRequest) -> HttpResponse:
    grant_id = request.POST.get("grant", "")
    if not grant_id:
        return error_response(request, 400, "Say which emergency access to end.")
    grant = emergency.emergency_grant_revoke(grant=emergency.grant_get(viewer=request.user, grant_id=grant_id))
    messages.success(request, f"Ended: {grant.recipient} can no longer open the link.")
    return redirect("emergency-grants")


@login_required
@require_GET
def emergency_credential_json(request: HttpRequest, credential_id: uuid.UUID) -> HttpResponse:
    """The guardian downloads a grant's credential for a rescuer who presents rather than opens the link."""
    credential = emergency.credential_get(viewer=request.user, credential_id=credential_id)
    response = HttpResponse(credential.document, content_type="application/vc+ld+json")
    response["Content-Disposition"] = f'attachment; filename="emergency-{credential.pk}.json"'
    return response


PRESENT_LIMIT = "30/60"  # presentations (and started checks) per minute per address: each verifies signatures


@require_http_methods(["GET", "POST"])
def emergency_present(request: HttpRequest) -> HttpResponse:
    """The rescuer presents the emergency access credential instead of opening the link: a POST without a check
    starts one (its challenge and domain, as the verifier page gives them); a POST of a presentation made for it
    opens the same read-only live view, or says why not (4xx, in words)."""
    session_id = request.POST.get("session") or request.GET.get("session") or ""
    session = selectors.session_get(session_id=session_id) if session_id else None
    form = VerifyForm()
    context: dict = {"session": session}
    status = 200
    if request.method == "POST":
        wait = hit("emergency-present", client_id(request), PRESENT_LIMIT)
        if wait is not None:
            return error_response(
                request, 429, f"Too many tries from here: try again {wait_text(wait)}.", retry_after=wait
            )
        if session is None:
            session = services.verifier_session_start()
            return redirect(f"{reverse('emergency-present')}?session={session.public_id}")
        form = VerifyForm(request.POST, request.FILES)
        status = 400
        if form.is_valid():
            try:
                _grant, grant_pass = emergency.emergency_present(
                    document=form.cleaned_data["parsed"],
                    session=session,
                    client=client_id(request),
                    user_agent=request.headers.get("User-Agent", ""),
                )
            except emergency.PresentationRefused as exc:
                form.add_error(None, exc.message)
                context["verdict"], status = exc.verdict, exc.status
            else:
                return redirect("emergency-view", token=grant_pass)
    context["form"] = form
    response = render(request, "credentials/emergency_present.html", context, status=status)
    add_never_cache_headers(response)
    return response


@require_GET
def emergency_page(request: HttpRequest, token: str) -> HttpResponse:
    """The rescuer's view. Opening it is logged for the guardian (a write by design, as a tag scan is)."""
    grant, twins = emergency.emergency_view(token=token)
    emergency.access_record(
        grant=grant,
        channel=EmergencyAccess.Channel.PAGE,
        client=client_id(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    response = render(
        request,
        "credentials/emergency_view.html",
        {"grant": grant, "twins": twins, "live_path": f"/ws/emergency/{token}/"},
    )
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"  # the link is the secret: never leak it to another site
    response["X-Robots-Tag"] = "noindex"
    return response


# --- the wallet's keeper and service credentials ---------------------------------------------------------------

# The largest byte string a QR code holds at error correction M (version 40), as for ownership credentials.
QR_MAX_BYTES = 2331
KIND_WORDS = {AccessCredential.Role.KEEPER: "Keeper", AccessCredential.Role.SERVICE: "Service access"}


def wallet_context(viewer) -> dict:
    """The wallet page's part for these credentials (credentials.views.wallet adds it)."""
    return {"access_wallet": access_selectors.access_wallet(viewer=viewer), "now": timezone.now()}


@login_required
@require_GET
def access_credential_detail(request: HttpRequest, credential_id: uuid.UUID) -> HttpResponse:
    credential = access_selectors.access_credential_get(viewer=request.user, credential_id=credential_id)
    text = credential.document
    state = access_selectors.access_state(credential)
    context = {
        "credential": credential,
        "kind": KIND_WORDS[credential.role],
        "state": state,
        "held": credential.holder_id == request.user.pk,
        "issued": credential.issued_by_id == request.user.pk,
        "capability_labels": [access.CAPABILITIES.get(c, c) for c in credential.capabilities],
        "pretty": json.dumps(credential.data, indent=2, ensure_ascii=False),
        "qr_svg": qr.svg_inline(text) if len(text.encode()) <= QR_MAX_BYTES else "",
    }
    return render(request, "credentials/access_detail.html", context)


@login_required
@require_GET
def access_credential_json(request: HttpRequest, credential_id: uuid.UUID) -> HttpResponse:
    credential = access_selectors.access_credential_get(viewer=request.user, credential_id=credential_id)
    response = HttpResponse(credential.document, content_type="application/vc+ld+json")
    response["Content-Disposition"] = f'attachment; filename="{credential.role}-{credential.pk}.json"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def access_credential_present(request: HttpRequest, credential_id: uuid.UUID) -> HttpResponse:
    """Its holder presents it (signed with their current key for the verifier's challenge and domain); the owner
    who issued it has nothing to present (a 404, as for anyone else)."""
    credential = access_selectors.access_credential_get(viewer=request.user, credential_id=credential_id)
    if credential.holder_id != request.user.pk:
        raise Http404("No such credential.")
    form = PresentForm(request.POST or None)
    context: dict = {"credential": credential, "kind": KIND_WORDS[credential.role], "form": form}
    if request.method == "POST" and form.is_valid():
        presentation, signed = services.presentation_build(
            credential=credential, owner=request.user, **form.cleaned_data
        )
        context.update(presentation=json.dumps(presentation, indent=2, ensure_ascii=False), signed=signed)
    return render(request, "credentials/access_present.html", context, status=400 if form.errors else 200)
