"""The GS1 Digital Link resolver (GS1-Conformant Resolver standard 1.x) for the models and things made here.

- `/01/<gtin>/21/<serial>`: the thing's page, exactly as a scan of its tag opens it (tags.views.tag_scan: the
  owner's page when the owner is signed in, the public page for anyone else, the same rate limit and scan log);
  for a thing that moved to another host, a 308 to its tag's scan there (`/t/<token>`: the tag moves with its
  token, so the new host answers it without knowing the maker). The model's own links (link set, other
  link types) stay the maker's, answered here.
- `/01/<gtin>`: the model's public page.
- GTIN-8/12/13 redirect (301) to the 14-digit form; a wrong check digit is a 400 that says so; an unknown GTIN or
  serial a 404.
- `?linkType=gs1:<type>`: a 307 to that link, or a 404 listing the types there are. `?linkType=all` (or
  `linkset`), or `Accept: application/linkset+json`: the RFC 9264 link set. Every answer carries a `Link` header
  pointing to the link set (resolver standard, "Link header").
- `/.well-known/gs1resolver`: the resolver description file.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from core.errors import error_response
from core.ratelimit import client_id, hit
from core.views import not_found
from makers import gs1
from makers.claims import claim_url
from makers.models import ProducedThing, ProductDocument, ProductModel
from makers.recalls import recalls_for
from tags.models import Tag
from tags.services import SCAN_LIMIT_MESSAGE
from tags.views import tag_scan


def model_url(model: ProductModel) -> str:
    return reverse("product-model", args=[model.gtin])


def recall_status_url(model: ProductModel, serial: str | None = None) -> str:
    """The recalls page of the model (for one serial when given), or the model page's recalls while that page
    does not exist (the recalls part adds `model-recalls`)."""
    try:
        url = reverse("model-recalls", args=[model.gtin])
    except NoReverseMatch:
        return model_url(model) + "#recalls"
    if serial is not None:
        from urllib.parse import urlencode

        url += "?" + urlencode({"serial": serial})
    return url


def document_url(document: ProductDocument) -> str:
    return reverse("product-document", args=[document.model.gtin, document.pk])


def links_for(model: ProductModel, produced: ProducedThing | None = None) -> list[gs1.Link]:
    """Every link of the model (and of one produced thing), absolute URLs, as the resolver serves them."""
    site = settings.SITE_URL
    organisation = model.organisation
    links: list[gs1.Link] = []
    anchor = site + gs1.build_path(model.gtin, produced.serial if produced else None)
    page = site + model_url(model)
    if produced is not None:
        # The thing's own page is what the Digital Link itself opens (as a tag scan does).
        links.append(gs1.Link("gs1:defaultLink", anchor, f"{model.name}, serial {produced.serial}"))
        if produced.claimed_at is None:
            links.append(gs1.Link("gs1:registerProduct", site + claim_url(produced), "Claim this thing"))
    else:
        links.append(gs1.Link("gs1:defaultLink", page, model.name))
    links.append(gs1.Link("gs1:pip", page, model.name))
    recalls = recalls_for(model, serial=produced.serial if produced else None)
    title = f"{len(recalls)} recall{'s' if len(recalls) != 1 else ''}" if recalls else "No recalls"
    links.append(
        gs1.Link("gs1:recallStatus", site + recall_status_url(model, produced.serial if produced else None), title)
    )
    given = dict(model.links or {})
    documents = list(model.documents.all().order_by("kind", "id"))
    for document in documents:
        link_type = {ProductDocument.Kind.MANUAL: "gs1:instructions", ProductDocument.Kind.SAFETY: "gs1:safetyInfo"}
        kind = link_type.get(document.kind)
        if kind and kind not in given:
            links.append(gs1.Link(kind, site + document_url(document), document.title, "application/pdf"))
    if "gs1:support" not in given and organisation.support_url:
        links.append(gs1.Link("gs1:support", organisation.support_url, f"{organisation.name} support"))
    for link_type, href in given.items():
        links.append(gs1.Link(link_type, href, ""))
    return links


def _wants_linkset(request: HttpRequest) -> bool:
    return gs1.LINKSET_MEDIA_TYPE in request.headers.get("Accept", "")


def _link_header(anchor: str) -> str:
    return gs1.link_header([(anchor + "?linkType=linkset", {"rel": "linkset", "type": gs1.LINKSET_MEDIA_TYPE})])


def _linkset_response(anchor: str, links: list[gs1.Link]) -> HttpResponse:
    response = JsonResponse(gs1.linkset(anchor, links), content_type=gs1.LINKSET_MEDIA_TYPE)
    response["Link"] = gs1.link_header(
        [
            (gs1.LINKSET_CONTEXT, {"rel": "http://www.w3.org/ns/json-ld#context", "type": "application/ld+json"}),
            (anchor, {"rel": "anchor"}),
        ]
    )
    return response


def _finish(response: HttpResponse, anchor: str) -> HttpResponse:
    response["Vary"] = "Accept"
    if "Link" not in response:
        response["Link"] = _link_header(anchor)
    return response


@require_GET
def resolve(request: HttpRequest, rest: str) -> HttpResponse:
    try:
        link = gs1.parse_path("/01/" + rest)
    except gs1.GS1Error as exc:
        return error_response(request, 400, str(exc))
    if not link.canonical:
        target = gs1.build_path(link.gtin, link.serial)
        query = request.META.get("QUERY_STRING", "")
        return HttpResponseRedirect(target + (f"?{query}" if query else ""), status=301)
    link_type = request.GET.get("linkType", "").strip()
    wants_set = link_type in ("all", "linkset") or (not link_type and _wants_linkset(request))
    # The thing's own page is a scan (tags.views.tag_scan spends the budget itself); every other answer spends it
    # here, found or not, so the resolver cannot enumerate GTINs and serials faster than a typed code can.
    to_scan = (
        link.serial is not None
        and not wants_set
        and (not link_type or gs1.link_type_curie(link_type) == "gs1:defaultLink")
    )
    if not to_scan and (refused := over_budget(request)):
        return refused
    model = ProductModel.objects.select_related("organisation").filter(gtin=link.gtin).first()
    if model is None:
        return _not_found(request, counted=not to_scan)
    produced = None
    if link.serial is not None:
        produced = ProducedThing.objects.select_related("twin").filter(model=model, serial=link.serial).first()
        if produced is None:
            return _not_found(request, counted=not to_scan)
    anchor = settings.SITE_URL + link.path
    if to_scan and produced is not None and produced.twin.moved_to:
        # The thing lives on another host now (issue 18): its Digital Link opens it there, at the same path. Counted
        # here, as a lookup that ends here (tag_scan would have counted it): no faster enumeration than a scan.
        if refused := over_budget(request):
            return refused
        # The thing's tag, whose token travels with it, is what its new host answers whether or not the maker (its
        # product model) is there too; the same path there for a thing without a tag.
        tag = _tag_of(produced)
        path = reverse("tag-scan", args=[tag.token]) if tag is not None else request.get_full_path()
        target = produced.twin.moved_to.rstrip("/") + path
        return _finish(HttpResponseRedirect(target, status=308), anchor)
    if wants_set:
        return _finish(_linkset_response(anchor, links_for(model, produced)), anchor)
    if link_type and gs1.link_type_curie(link_type) != "gs1:defaultLink":
        links = links_for(model, produced)
        wanted = gs1.link_type_curie(link_type)
        chosen = next((item for item in links if item.link_type == wanted), None)
        if chosen is None:
            available = sorted({item.link_type for item in links})
            return _finish(
                error_response(
                    request,
                    404,
                    f"This item has no {wanted} link. It has: {', '.join(available)}.",
                    extra={"available": available},
                ),
                anchor,
            )
        return _finish(HttpResponseRedirect(chosen.href, status=307), anchor)
    if produced is None:
        return _finish(HttpResponseRedirect(model_url(model), status=307), anchor)
    tag = _tag_of(produced)
    if tag is None:
        return _not_found(request, counted=False)
    return _finish(tag_scan(request, tag.token), anchor)


def over_budget(request: HttpRequest) -> HttpResponse | None:
    """Spend one lookup of the client's scan budget (the one `/t/` scans and typed codes spend): a 429 with
    Retry-After past it, else None. Every page that answers whether a GTIN or serial exists spends it first (this
    resolver, the claim page), so none lists them faster than a typed code can."""
    retry_after = hit("scan", client_id(request), settings.RATE_SCAN_PER_CLIENT)
    if retry_after is None:
        return None
    return error_response(request, 429, SCAN_LIMIT_MESSAGE, retry_after=retry_after)


def _not_found(request: HttpRequest, *, counted: bool) -> HttpResponse:
    """404 for an unknown GTIN or serial, after spending the budget if this request has not yet."""
    return (None if counted else over_budget(request)) or not_found(request)


def _tag_of(produced: ProducedThing) -> Tag | None:
    """The thing's tag a scan of its Digital Link stands for: an active one, else the newest (a retired tag's page
    says so)."""
    tags = Tag.objects.filter(twin_id=produced.twin_id).only("token", "status")
    return tags.filter(status=Tag.Status.ACTIVE).order_by("created_at", "id").first() or tags.first()


# The resolver description file (resolver standard, "Resolver description file"; its JSON schema:
# https://ref.gs1.org/standards/resolver/description-file-schema).
@require_GET
def description(request: HttpRequest) -> HttpResponse:
    body = {
        "name": "Thingstead",
        "resolverRoot": settings.SITE_URL,
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": gs1.VOCABULARY, "prefix": gs1.PREFIX}],
        "linkTypeDefaultCanBeLinkset": True,
    }
    response = JsonResponse(body)
    response["Access-Control-Allow-Origin"] = "*"
    return response
