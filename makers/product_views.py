"""Pages of product models, production and claims. Thin: parse, call a service or selector, render.

Public: a model's page and its documents, the claim page (signed-in to claim). Members only (anyone else gets a
404, as for every private page): the organisation's models, their forms, production and its one-time CSV.
"""

from __future__ import annotations

import io
import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core import csvsafe
from core.errors import error_response
from core.forms import apply_errors
from core.ratelimit import client_id
from makers import gs1
from makers.access import organisation_for_member
from makers.claims import ClaimRefused, claim, claim_url, produced_at
from makers.links import model_links
from makers.models import ProducedThing, ProductDocument, ProductModel
from makers.product_forms import ClaimForm, DocumentForm, ProductionForm, ProductModelForm
from makers.production import ProductionRefused, document_add, model_create, model_update, produce
from makers.recalls import recalls_for
from makers.resolver import links_for, over_budget

CSV_SECONDS = 600


def _model_or_404(gtin: str, organisation=None) -> ProductModel:
    try:
        gtin14 = gs1.normalise_gtin(gtin)
    except gs1.GS1Error:
        raise Http404("No such model.") from None
    qs = ProductModel.objects.select_related("organisation")
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    model = qs.filter(gtin=gtin14).first()
    if model is None:
        raise Http404("No such model.")
    return model


# --- public ------------------------------------------------------------------------------------------------------


@require_GET
def model_page(request: HttpRequest, gtin: str) -> HttpResponse:
    model = _model_or_404(gtin)
    links = [link for link in links_for(model) if link.link_type not in ("gs1:defaultLink", "gs1:pip")]
    context = {
        "model": model,
        "organisation": model.organisation,
        "documents": model.documents.all().order_by("kind", "id"),
        "links": links,
        "recalls": recalls_for(model),
        "digital_link": settings.SITE_URL + gs1.build_path(model.gtin),
    }
    return render(request, "makers/product_model.html", context)


@require_GET
def document_file(request: HttpRequest, gtin: str, document_id: int) -> HttpResponse:
    model = _model_or_404(gtin)
    document = ProductDocument.objects.filter(model=model, pk=document_id).first()
    if document is None:
        raise Http404("No such document.")
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise Http404("No such document.") from None
    response = FileResponse(handle, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{model.gtin}-{document.pk}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def claim_page(request: HttpRequest, rest: str) -> HttpResponse:
    """`/claim/01/<gtin>/21/<serial>`: the first buyer types the code from the box."""
    try:
        parsed = gs1.parse_path("/01/" + rest)
    except gs1.GS1Error as exc:
        return error_response(request, 400, str(exc))
    # The answer (404, the login, "already claimed", the form) tells whether the serial was produced and is sold:
    # spent on every GET and POST before the lookup, found or not, as the resolver spends it (review finding 6).
    if refused := over_budget(request):
        return refused
    produced = produced_at(gtin=parsed.gtin, serial=parsed.serial) if parsed.serial else None
    if produced is None:
        raise Http404("No such thing.")
    if not request.user.is_authenticated:
        return redirect_to_login(claim_url(produced))
    form = ClaimForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            claim(twin=produced.twin, buyer=request.user, code=form.cleaned_data["code"], client=client_id(request))
        except ClaimRefused as exc:
            if exc.status == 429:
                return error_response(request, 429, exc.message, retry_after=exc.retry_after)
            form.add_error("code", exc.message)
            status = exc.status
        else:
            messages.success(request, f"{produced.twin.name} is yours. Its DID log now names your key.")
            return redirect("thing", slug=produced.twin.slug)
    elif request.method == "POST":
        status = 400
    context = {"produced": produced, "model": produced.model, "form": form}
    return render(request, "makers/claim_page.html", context, status=status)


# --- members -----------------------------------------------------------------------------------------------------


@login_required
def model_list(request: HttpRequest, slug: str) -> HttpResponse:
    organisation, _ = organisation_for_member(request.user, slug)
    form = ProductModelForm(request.POST or None, initial={"icon": "thing"})
    if request.method == "POST" and form.is_valid():
        try:
            model = model_create(organisation=organisation, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{model.name} added (GTIN {model.gtin}).")
            return redirect("product-model-edit", slug=organisation.slug, gtin=model.gtin)
    models = organisation.product_models.all().order_by("name", "id")
    context = {"organisation": organisation, "models": models, "form": form}
    return render(request, "makers/product_list.html", context, status=400 if form.errors else 200)


@login_required
def model_edit(request: HttpRequest, slug: str, gtin: str) -> HttpResponse:
    organisation, _ = organisation_for_member(request.user, slug)
    model = _model_or_404(gtin, organisation)
    initial = {
        "name": model.name,
        "gtin": model.gtin,
        "icon": model.icon,
        "description": model.description,
        "reading_kinds": model.reading_kinds,
        "links": model.links,
    }
    form = ProductModelForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            model = model_update(model=model, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("product-model-edit", slug=organisation.slug, gtin=model.gtin)
    context = {
        "organisation": organisation,
        "model": model,
        "form": form,
        "document_form": DocumentForm(),
        "documents": model.documents.all().order_by("kind", "id"),
        "produced": ProducedThing.objects.filter(model=model).count(),
        "links": model_links(organisation, model),
    }
    return render(request, "makers/product_edit.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def document_upload(request: HttpRequest, slug: str, gtin: str) -> HttpResponse:
    organisation, _ = organisation_for_member(request.user, slug)
    model = _model_or_404(gtin, organisation)
    form = DocumentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            document_add(
                model=model,
                kind=form.cleaned_data["kind"],
                title=form.cleaned_data["title"],
                upload=form.cleaned_data["file"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Document added.")
            return redirect("product-model-edit", slug=organisation.slug, gtin=model.gtin)
    context = {
        "organisation": organisation,
        "model": model,
        "form": ProductModelForm(initial={"name": model.name, "gtin": model.gtin, "icon": model.icon}),
        "document_form": form,
        "documents": model.documents.all().order_by("kind", "id"),
        "produced": ProducedThing.objects.filter(model=model).count(),
        "links": model_links(organisation, model),
    }
    return render(request, "makers/product_edit.html", context, status=400)


def production_csv(rows: list[tuple[ProducedThing, str]]) -> str:
    """One line per thing, for the label printer: serial, claim code, GS1 Digital Link, tag URL, twin id, DID."""
    out = io.StringIO()
    writer = csvsafe.writer(out)  # a GS1 serial may start with + - = (AI 21's characters)
    writer.writerow(["serial", "claim_code", "gs1_digital_link", "tag_url", "twin", "did"])
    for row in production_rows(rows):
        writer.writerow(
            [row["serial"], row["claim_code"], row["digital_link"], row["tag_url"], row["twin"], row["did"]]
        )
    return out.getvalue()


def production_rows(rows: list[tuple[ProducedThing, str]]) -> list[dict[str, str]]:
    from tags.models import Tag

    tags = dict(
        Tag.objects.filter(twin_id__in=[p.twin_id for p, _ in rows], status=Tag.Status.ACTIVE).values_list(
            "twin_id", "token"
        )
    )
    site = settings.SITE_URL
    return [
        {
            "serial": produced.serial,
            "claim_code": code,
            "digital_link": site + gs1.build_path(produced.model.gtin, produced.serial),
            "tag_url": f"{site}/t/{tags[produced.twin_id]}" if produced.twin_id in tags else "",
            "twin": produced.twin.slug,
            "did": produced.twin.did,
        }
        for produced, code in rows
    ]


def _csv_key(owner_id: int, ticket: str) -> str:
    return f"makers:production-csv:{owner_id}:{ticket}"


@login_required
def production(request: HttpRequest, slug: str, gtin: str) -> HttpResponse:
    """Produce one thing or a batch. The claim codes are shown once: on the result page (for a few) and in a CSV
    that can be downloaded once."""
    organisation, _ = organisation_for_member(request.user, slug)
    model = _model_or_404(gtin, organisation)
    form = ProductionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            serials = form.serial_list()
            rows = produce(model=model, serials=serials, by=request.user)
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        except ProductionRefused as exc:
            form.add_error(None, exc.message)
        else:
            ticket = secrets.token_urlsafe(16)
            cache.set(_csv_key(request.user.pk, ticket), production_csv(rows), CSV_SECONDS)
            context = {
                "organisation": organisation,
                "model": model,
                "count": len(rows),
                "rows": production_rows(rows[:50]),
                "ticket": ticket,
            }
            return render(request, "makers/product_produced.html", context)
    context = {"organisation": organisation, "model": model, "form": form}
    return render(request, "makers/product_production.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def production_csv_download(request: HttpRequest, slug: str, gtin: str, ticket: str) -> HttpResponse:
    """The batch's CSV, once: taken out of the cache as it is served (a POST: it changes what the server holds)."""
    organisation, _ = organisation_for_member(request.user, slug)
    model = _model_or_404(gtin, organisation)
    key = _csv_key(request.user.pk, ticket)
    text = cache.get(key)
    cache.delete(key)
    if text is None:
        return error_response(
            request, 410, "This CSV was downloaded already or has expired: the claim codes are shown only once."
        )
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="production-{model.gtin}-{ticket[:8]}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
