"""Pages of the credentials feature: the owner's wallet, the public status lists, the verifier page and the
shop's policies. Views parse, call one service or selector, and render."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import qr
from core.errors import error_response
from core.ratelimit import client_id, hit, wait_text
from credentials import access_views, authenticity, selectors, services
from credentials.forms import PolicyForm, PresentForm, VerifyForm
from credentials.verification import NotACredential, verify_document

# The largest byte string a QR code holds at error correction M (version 40): 2,331 bytes.
QR_MAX_BYTES = 2331
VERIFY_LIMIT = "60/60"  # verifications (and started checks) per minute per address: each reads DID logs


def _pretty(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


# --- wallet --------------------------------------------------------------------------------------------------


@login_required
@require_GET
def wallet(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "credentials/wallet.html",
        {
            "credentials": selectors.credential_list(viewer=request.user),
            "authenticity": authenticity.wallet_list(viewer=request.user),
            **access_views.wallet_context(request.user),  # keeper and service credentials, issued and received
        },
    )


@login_required
@require_GET
def credential_detail(request: HttpRequest, credential_id: uuid.UUID) -> HttpResponse:
    credential = selectors.credential_get(viewer=request.user, credential_id=credential_id)
    text = credential.document
    qr_svg = qr.svg_inline(text) if len(text.encode()) <= QR_MAX_BYTES else ""
    owns = credential.twin.owner_id == request.user.pk
    return render(
        request,
        "credentials/detail.html",
        {"credential": credential, "pretty": _pretty(credential.data), "qr_svg": qr_svg, "owns": owns},
    )


@login_required
@require_GET
def credential_json(request: HttpRequest, credential_id: uuid.UUID) -> HttpResponse:
    credential = selectors.credential_get(viewer=request.user, credential_id=credential_id)
    response = HttpResponse(credential.document, content_type="application/vc+ld+json")
    response["Content-Disposition"] = f'attachment; filename="ownership-{credential.pk}.json"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def credential_present(request: HttpRequest, credential_id: uuid.UUID) -> HttpResponse:
    credential = selectors.credential_get(viewer=request.user, credential_id=credential_id)
    form = PresentForm(request.POST or None)
    context: dict = {"credential": credential, "form": form}
    if request.method == "POST" and form.is_valid():
        presentation, signed = services.presentation_build(
            credential=credential, owner=request.user, **form.cleaned_data
        )
        context.update(presentation=_pretty(presentation), signed=signed)
    return render(request, "credentials/present.html", context)


# --- public status lists -----------------------------------------------------------------------------------


@require_GET
def status_list(request: HttpRequest, list_id: str) -> HttpResponse:
    """The signed list as kept since its last change (signing happens on change, never per request).

    The list of a twin that moved to another host (issue 18) answers 308 to the same path there: the list moved
    with the twin under the same public id (credentials.portability) and is kept and re-signed there, so
    credentials issued here stay checkable and a revocation made there is what verifiers see."""
    found = selectors.status_list_get(list_id=list_id)
    if found.twin.moved_to:
        response = HttpResponse(status=308)  # permanent, and the method kept (RFC 9110 §15.4.9)
        response["Location"] = found.twin.moved_to.rstrip("/") + request.get_full_path()
        response["Access-Control-Allow-Origin"] = "*"  # browser verifiers follow it as they fetch the list
        return response
    return signed_list_response(request, found)


def signed_list_response(request: HttpRequest, signed: Any) -> HttpResponse:
    """A status list's kept document, public and cacheable: 304 for a matching If-None-Match (a twin's list or an
    issuer's)."""
    if signed.etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(signed.document, content_type="application/vc+ld+json")
    response["ETag"] = signed.etag
    patch_cache_control(response, public=True, max_age=300)
    response["Access-Control-Allow-Origin"] = "*"
    return response


# --- verifier ------------------------------------------------------------------------------------------------


def _limited(request: HttpRequest) -> HttpResponse | None:
    wait = hit("verify-credential", client_id(request), VERIFY_LIMIT)
    if wait is None:
        return None
    return error_response(request, 429, f"Too many checks from here: try again {wait_text(wait)}.", retry_after=wait)


@require_http_methods(["GET", "POST"])
def verify_credential(request: HttpRequest) -> HttpResponse:
    """Check a pasted or uploaded credential, or start a presentation check (a server-side session that holds
    the challenge and domain to give the holder). `?policy=<id>` checks against a shop's policy."""
    policy_id = request.GET.get("policy") or request.POST.get("policy") or ""
    policy = selectors.policy_by_public_id(policy_id) if policy_id else None
    context: dict = {"policy": policy}
    form = VerifyForm()
    if request.method == "POST":
        limited = _limited(request)
        if limited is not None:
            return limited
        if request.POST.get("action") == "start":
            session = services.verifier_session_start(policy=policy)
            return redirect("verify-session", session_id=session.public_id)
        form = VerifyForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                context["outcome"] = verify_document(form.cleaned_data["parsed"], policy=policy)
            except NotACredential as exc:
                form.add_error(None, str(exc))
    context["form"] = form
    status = 400 if form.errors else 200
    return render(request, "credentials/verify.html", context, status=status)


@require_http_methods(["GET", "POST"])
def verify_session(request: HttpRequest, session_id: str) -> HttpResponse:
    session = selectors.session_get(session_id=session_id)
    form = VerifyForm()
    context: dict = {"session": session, "policy": session.policy}
    if request.method == "POST":
        limited = _limited(request)
        if limited is not None:
            return limited
        form = VerifyForm(request.POST, request.FILES)
        if session.used_at is not None:
            form.add_error(None, "This check is finished: start a new one for another presentation.")
        elif form.is_valid():
            try:
                outcome = verify_document(
                    form.cleaned_data["parsed"],
                    challenge=session.challenge,
                    domain=session.domain,
                    policy=session.policy,
                )
            except NotACredential as exc:
                form.add_error(None, str(exc))
            else:
                if outcome.kind != "presentation":
                    form.add_error(None, "This is a bare credential: ask for a presentation made for this check.")
                else:
                    if outcome.ok and not services.verifier_session_spend(session=session):
                        form.add_error(None, "This check is finished: start a new one for another presentation.")
                    else:
                        context["outcome"] = outcome
    context["form"] = form
    return render(request, "credentials/verify.html", context, status=400 if form.errors else 200)


# --- policies ------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def policies(request: HttpRequest) -> HttpResponse:
    form = PolicyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if selectors.policy_list(viewer=request.user).filter(name=form.cleaned_data["name"].strip()).exists():
            form.add_error("name", "You already have a policy of that name.")
        else:
            services.policy_save(owner=request.user, **form.cleaned_data)
            return redirect("verify-policies")
    return render(
        request,
        "credentials/policies.html",
        {"policies": selectors.policy_list(viewer=request.user), "form": form},
        status=400 if form.errors else 200,  # bad input is a 400, the form saying why
    )


@login_required
@require_http_methods(["GET", "POST"])
def policy_edit(request: HttpRequest, policy_id: str) -> HttpResponse:
    policy = selectors.policy_get(viewer=request.user, policy_id=policy_id)
    initial = {
        "name": policy.name,
        "accepted_models": "\n".join(policy.accepted_models),
        "manufacturers": "\n".join(policy.manufacturers or []),
    }
    form = PolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"].strip()
        if selectors.policy_list(viewer=request.user).filter(name=name).exclude(pk=policy.pk).exists():
            form.add_error("name", "You already have a policy of that name.")
        else:
            services.policy_save(owner=request.user, policy=policy, **form.cleaned_data)
            return redirect("verify-policies")
    status = 400 if form.errors else 200  # bad input is a 400, the form saying why
    return render(request, "credentials/policy.html", {"policy": policy, "form": form}, status=status)


@login_required
@require_POST
def policy_delete(request: HttpRequest, policy_id: str) -> HttpResponse:
    services.policy_delete(policy=selectors.policy_get(viewer=request.user, policy_id=policy_id))
    return redirect("verify-policies")
