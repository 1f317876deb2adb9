"""Organisation pages: the public profile and DID log, and (signed in) my organisations, create, settings with
members, invitations, key rotation and API tokens.

Access: `organisation_for_member` answers 404 to anyone not a member (the page does not confirm the
organisation has private pages for them); a member asking for an admin's action gets a 403 that says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import error_response
from makers import orgs
from makers.access import NotAllowed, organisation_for_member
from makers.models import Membership, Organisation, ProductModel
from makers.org_forms import ConfirmForm, InviteForm, OrganisationCreateForm, ProfileForm, RoleForm, TokenForm
from owners.recent_auth import recent_login_required
from ssi import webvh


def _refusals(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A member asking for an admin's action: 403 with the reason (nothing changed)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotAllowed as exc:
            return error_response(request, 403, str(exc))

    return wrapper


def _form_error(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- Public -------------------------------------------------------------------------------------------------


def _public(slug: str) -> Organisation:
    organisation = Organisation.objects.filter(slug=slug).exclude(did="").first()
    if organisation is None:
        raise Http404("No such organisation.")
    return organisation


def _model_url(model: ProductModel) -> str:
    # The model pages belong to another part of the app; link to them only when that part is there.
    try:
        return reverse("product-model", args=[model.gtin])
    except NoReverseMatch:
        return ""


@require_GET
def profile(request: HttpRequest, slug: str) -> HttpResponse:
    """The public profile: who the organisation is, its DID, and its product models."""
    organisation = _public(slug)
    models = [
        {"model": model, "url": _model_url(model)}
        for model in ProductModel.objects.filter(organisation=organisation).order_by("name", "id")
    ]
    is_member = request.user.is_authenticated and organisation.memberships.filter(owner=request.user).exists()
    return render(
        request,
        "makers/org_profile.html",
        {"organisation": organisation, "models": models, "is_member": is_member},
    )


@require_GET
def did_log(request: HttpRequest, slug: str) -> HttpResponse:
    """did:webvh: the log at the path the organisation's DID maps to (as twins serve theirs)."""
    response = HttpResponse(orgs.log_jsonl(_public(slug)), content_type="application/jsonl; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def did_web(request: HttpRequest, slug: str) -> HttpResponse:
    """The parallel did:web document, for did:web resolvers."""
    document = webvh.did_web_document(orgs.log_state(_public(slug)))
    response = HttpResponse(json.dumps(document, indent=2), content_type="application/did+json")
    response["Access-Control-Allow-Origin"] = "*"
    return response


# --- Mine ---------------------------------------------------------------------------------------------------


@login_required
@require_GET
def organisation_list(request: HttpRequest) -> HttpResponse:
    memberships = (
        Membership.objects.filter(owner=request.user).select_related("organisation").order_by("organisation__name")
    )
    return render(request, "makers/org_list.html", {"memberships": memberships})


@login_required
@require_http_methods(["GET", "POST"])
def organisation_create(request: HttpRequest) -> HttpResponse:
    form = OrganisationCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            organisation = orgs.organisation_create(
                slug=data.pop("slug"), name=data.pop("name"), admin=request.user, **data
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{organisation.name} is set up, with its own DID. You are its admin.")
            return redirect("organisation-settings", slug=organisation.slug)
    return render(request, "makers/org_create.html", {"form": form}, status=400 if form.errors else 200)


def _settings_context(request: HttpRequest, organisation: Organisation, membership: Membership, **extra) -> dict:
    is_admin = membership.role == Membership.Role.ADMIN
    context = {
        "organisation": organisation,
        "membership": membership,
        "is_admin": is_admin,
        "members": orgs.members_of(organisation),
        "invitations": orgs.invitations_pending(organisation) if is_admin else [],
        "invite_form": InviteForm(),
        "profile_form": ProfileForm(instance=organisation),
        "roles": Membership.Role.choices,
    }
    context.update(extra)
    return context


@login_required
@require_GET
def organisation_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """Members and their roles, pending invitations, the profile, links to keys and tokens."""
    organisation, membership = organisation_for_member(request.user, slug)
    return render(request, "makers/org_settings.html", _settings_context(request, organisation, membership))


@login_required
@require_POST
@_refusals
def organisation_profile_edit(request: HttpRequest, slug: str) -> HttpResponse:
    organisation, membership = organisation_for_member(request.user, slug, admin=True)
    form = ProfileForm(request.POST, instance=Organisation.objects.get(pk=organisation.pk))
    if form.is_valid():
        try:
            orgs.organisation_update(organisation=organisation, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Profile saved.")
            return redirect("organisation-settings", slug=slug)
    context = _settings_context(request, organisation, membership, profile_form=form)
    return render(request, "makers/org_settings.html", context, status=400)


@login_required
@require_POST
@_refusals
def invitation_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Make an invitation link; it is shown on this response only."""
    organisation, membership = organisation_for_member(request.user, slug, admin=True)
    form = InviteForm(request.POST)
    if not form.is_valid():
        context = _settings_context(request, organisation, membership, invite_form=form)
        return render(request, "makers/org_settings.html", context, status=400)
    token, invitation = orgs.invitation_create(organisation=organisation, by=request.user, **form.cleaned_data)
    link = settings.SITE_URL + reverse("organisation-join", args=[token])
    context = _settings_context(request, organisation, membership, new_link=link, new_invitation=invitation)
    return render(request, "makers/org_settings.html", context)


@login_required
@require_POST
@_refusals
def invitation_revoke(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    organisation, _ = organisation_for_member(request.user, slug, admin=True)
    orgs.invitation_revoke(organisation=organisation, invitation_id=invitation_id, by=request.user)
    messages.success(request, "Invitation withdrawn: its link no longer works.")
    return redirect("organisation-settings", slug=slug)


@login_required
@require_POST
@_refusals
def member_role(request: HttpRequest, slug: str, member_id: int) -> HttpResponse:
    organisation, _ = organisation_for_member(request.user, slug, admin=True)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return error_response(request, 400, "Choose a role: admin or member.")
    membership = orgs.member_role_set(
        organisation=organisation, member_id=member_id, role=form.cleaned_data["role"], by=request.user
    )
    messages.success(request, f"{membership.owner.username} is now {membership.get_role_display().lower()}.")
    return redirect("organisation-settings", slug=slug)


@login_required
@require_POST
@_refusals
def member_remove(request: HttpRequest, slug: str, member_id: int) -> HttpResponse:
    """An admin removes a member; anyone removes themselves (leaves)."""
    organisation, _ = organisation_for_member(request.user, slug)
    membership = orgs.member_remove(organisation=organisation, member_id=member_id, by=request.user)
    if membership.owner_id == request.user.pk:
        messages.success(request, f"You have left {organisation.name}.")
        return redirect("organisations")
    messages.success(request, f"{membership.owner.username} is no longer a member.")
    return redirect("organisation-settings", slug=slug)


@login_required
@recent_login_required
@require_http_methods(["GET", "POST"])
@_refusals
def keys_rotate(request: HttpRequest, slug: str) -> HttpResponse:
    """GET explains and asks to confirm; POST rotates the organisation's update keys."""
    organisation, _ = organisation_for_member(request.user, slug, admin=True)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        state = orgs.organisation_keys_rotate(organisation=organisation, by=request.user)
        messages.success(request, f"Keys rotated: the DID log is at version {state.version_number}.")
        return redirect("organisation-settings", slug=slug)
    state = orgs.log_state(organisation)
    return render(
        request,
        "makers/org_keys.html",
        {"organisation": organisation, "form": form, "state": state},
        status=400 if form.errors else 200,
    )


@login_required
@recent_login_required
@require_http_methods(["GET", "POST"])
@_refusals
def tokens(request: HttpRequest, slug: str) -> HttpResponse:
    """The organisation's API tokens (prefix and label only); POST makes one and shows it this once."""
    organisation, _ = organisation_for_member(request.user, slug, admin=True)
    form = TokenForm(request.POST if request.method == "POST" else None)
    new_token = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            new_token, _ = orgs.token_issue(organisation=organisation, by=request.user, **form.cleaned_data)
            form = TokenForm()
        else:
            status = 400
    return render(
        request,
        "makers/org_tokens.html",
        {"organisation": organisation, "form": form, "tokens": orgs.tokens_of(organisation), "new_token": new_token},
        status=status,
    )


@login_required
@require_POST
@_refusals
def token_revoke(request: HttpRequest, slug: str, token_id: int) -> HttpResponse:
    organisation, _ = organisation_for_member(request.user, slug, admin=True)
    row = orgs.token_revoke(organisation=organisation, token_id=token_id, by=request.user)
    messages.success(request, f"Token {row.prefix}… revoked: requests with it are refused from now on.")
    return redirect("organisation-tokens", slug=slug)


# --- Joining ------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link: GET shows whom it is from and asks to join; POST joins."""
    invitation = orgs.invitation_get(token=token)
    if request.method == "POST":
        try:
            orgs.invitation_accept(token=token, owner=request.user)
        except orgs.InvitationRefused as exc:
            return error_response(request, exc.status, exc.message)
        messages.success(request, f"You are now a member of {invitation.organisation.name}.")
        return redirect("organisation-settings", slug=invitation.organisation.slug)
    refusal = orgs.invitation_refusal(invitation, request.user)
    spent = invitation.used_at is not None or invitation.expires_at <= timezone.now()
    return render(
        request,
        "makers/org_join.html",
        {"invitation": invitation, "organisation": invitation.organisation, "refusal": refusal},
        status=410 if spent else 200,
    )
