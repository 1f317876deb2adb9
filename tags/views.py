"""Tag pages. Public ones (/t/...) answer whoever holds the sticker; private ones are the owner's tag management.

Thin: validate, call a service, render. Access is in the selectors; the public page shows only what the
owner switched on.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core import qr
from core.errors import error_response
from core.forms import apply_errors
from core.ratelimit import client_id
from core.views import not_found
from tags import ndef, nfc, nfc_provision, selectors, services
from tags.forms import ClaimForm, MessageForm, NfcProvisionForm, NfcSettingForm, TagForm
from tags.models import Tag
from twins import access, panels
from twins.forms import ReadingForm
from twins.models import Reading
from twins.panels import print_links
from twins.selectors import twin_get, twin_list
from twins.services import reading_add
from twins.views import photo_response

RETIRED_MESSAGE = "This tag has been retired by its owner. It no longer leads anywhere."


def _too_many(request: HttpRequest, refused: services.TooMany) -> HttpResponse:
    return error_response(request, 429, refused.message, retry_after=refused.retry_after)


def _retired(request: HttpRequest) -> HttpResponse:
    # 410 Gone: the tag existed and will not come back. Nothing about the thing is in this page.
    return render(request, "tags/retired.html", {"message": RETIRED_MESSAGE}, status=410)


def _thing_url(slug: str) -> str:
    return reverse("thing", args=[slug]) + "#tags"


def _moved(request: HttpRequest, base_url: str) -> HttpResponse:
    """308 to the same path and query on the instance the thing moved to: a printed tag keeps working, and a POST
    (a finder's message, a reading) is repeated there as it was."""
    return HttpResponsePermanentRedirect(base_url + request.get_full_path(), preserve_request=True)


# Public: anyone who holds the tag.


@require_GET
def tag_enter(request: HttpRequest) -> HttpResponse:
    """The short code typed by hand when a camera fails: ?code=ABCD-EFGH redirects to the tag's URL."""
    typed = request.GET.get("code", "").strip()
    if not typed:
        return render(request, "tags/enter.html")
    try:
        tag = services.code_lookup(typed=typed, client=client_id(request))
    except services.TooMany as refused:
        return _too_many(request, refused)
    if tag is None:
        return not_found(request)
    return redirect("tag-scan", token=tag.token)


@never_cache
@require_GET
def tag_scan(request: HttpRequest, token: str) -> HttpResponse:
    """What a scan opens: the owner's one-box reading form (also for a keeper who may add readings), or the public
    page for anyone else. An NFC chip's URL says so in its query string (tags.nfc.read_marker); a genuine SUN tap
    gets the "genuine tag" mark."""
    query = request.META.get("QUERY_STRING", "")
    try:
        opened = services.scan_open(
            token=token,
            viewer=request.user,
            client=client_id(request),
            user_agent=request.headers.get("User-Agent", ""),
            nfc=nfc.read_marker(query) if query else nfc.LINK,
        )
    except services.TooMany as refused:
        return _too_many(request, refused)
    match opened.show:
        case services.ScanPage.MOVED:
            return _moved(request, opened.moved_to)
        case services.ScanPage.NOT_FOUND:
            return not_found(request)
        case services.ScanPage.RETIRED:
            return _retired(request)
        case services.ScanPage.UNASSIGNED:
            return _unassigned(request, opened.tag)
        case services.ScanPage.OWNER:
            twin = opened.tag.twin
            if opened.genuine:
                nfc.remember_genuine_tap(request, twin_id=twin.pk)
            return render(
                request,
                "tags/owner_scan.html",
                {
                    "tag": opened.tag,
                    "twin": twin,
                    "genuine": opened.genuine,
                    **panels.owner_scan_context(request, twin),
                },
            )
        case services.ScanPage.KEEPER:
            twin = opened.tag.twin
            if opened.genuine:
                nfc.remember_genuine_tap(request, twin_id=twin.pk)
            context = {"tag": opened.tag, "twin": twin, "genuine": opened.genuine, "keeper": True}
            return render(request, "tags/owner_scan.html", context)
    if opened.html is not None:
        return HttpResponse(opened.html)
    if opened.genuine:
        nfc.remember_genuine_tap(request, twin_id=opened.tag.twin_id)
    context = selectors.tag_public_page(tag=opened.tag)
    return render(request, "tags/public.html", {**context, "genuine": opened.genuine})


def _unassigned(request: HttpRequest, tag: Tag, form: ClaimForm | None = None, status: int = 200) -> HttpResponse:
    context: dict = {"tag": tag}
    if request.user.is_authenticated:
        things = list(twin_list(viewer=request.user))
        context["form"] = form or ClaimForm(things=things)
        context["has_things"] = bool(things)
    return render(request, "tags/unassigned.html", context, status=status)


CROSS_SITE_MESSAGE = (
    "This message was refused: your browser did not confirm that it was sent from this thing's page on this site "
    "(cross-site request forgery protection, CSRF). Reload the page and send it again."
)
# Sec-Fetch-Site values of a request this site's own page made, or the person made themselves (typed, bookmarked).
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def _origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}".lower() if rest else ""


def _from_this_site(request: HttpRequest) -> bool:
    """Did the browser say the POST came from one of this site's pages? Sec-Fetch-Site when it sends it (every
    current browser), else Origin, else Referer; a request that says none of them is refused. See docs/security.md,
    "The finder's message form", for why this replaces a per-visitor CSRF token there."""
    if getattr(request, "_dont_enforce_csrf_checks", False):  # Django's test client, as CsrfViewMiddleware does
        return True
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in _OWN_FETCH_SITES
    origin = request.headers.get("Origin") or _origin_of(request.headers.get("Referer", ""))
    if not origin:
        return False
    own = {f"{request.scheme}://{request.get_host()}".lower(), _origin_of(settings.SITE_URL)}
    return origin.lower() in own | {o.lower() for o in settings.CSRF_TRUSTED_ORIGINS}


@csrf_exempt  # no per-visitor token, so that the finder's page is one cached page: _from_this_site instead
@require_POST
def tag_message(request: HttpRequest, token: str) -> HttpResponse:
    """A finder's message, relayed to the owner's inbox and email; the finder never sees their address."""
    if not _from_this_site(request):
        return error_response(request, 403, CROSS_SITE_MESSAGE, context={"title": "Message refused"})
    try:
        tag = selectors.tag_public_get(token=token)
        services.message_attempt(client=client_id(request))
        form = MessageForm(request.POST)
        if not form.is_valid():
            return render(request, "tags/public.html", {**selectors.tag_public_page(tag=tag), "form": form}, status=400)
        services.message_relay(tag=tag, **form.cleaned_data)
    except selectors.TagRetired:
        return _retired(request)
    except selectors.TagMoved as moved:
        return _moved(request, moved.base_url)
    except services.TooMany as refused:
        return _too_many(request, refused)
    twin = tag.twin
    return render(
        request, "tags/message_sent.html", {"tag": tag, "thing_name": twin.name if twin.show_thing_name else ""}
    )


@require_GET
def tag_public_photo(request: HttpRequest, token: str) -> HttpResponse:
    try:
        tag = selectors.tag_public_get(token=token)
    except selectors.TagRetired:
        raise Http404("No such photo.") from None
    except selectors.TagMoved as moved:
        return _moved(request, moved.base_url)
    if not tag.twin.show_photo:
        raise Http404("No such photo.")
    return photo_response(tag.twin)


@require_POST
def tag_claim(request: HttpRequest, token: str) -> HttpResponse:
    """Attach a pre-printed tag to one of the signed-in viewer's things."""
    tag = selectors.tag_resolve(token=token)
    if base_url := selectors.moved_to(tag):
        return _moved(request, base_url)
    if tag is None:
        return not_found(request)
    if not request.user.is_authenticated:
        return redirect_to_login(tag.get_absolute_url())
    if tag.status != Tag.Status.UNASSIGNED:
        return _claim_refused(request, "This tag has already been attached to a thing.")
    form = ClaimForm(request.POST, things=list(twin_list(viewer=request.user)))
    if not form.is_valid():
        return _unassigned(request, tag, form, status=400)
    twin = form.cleaned_data["thing"]
    try:
        services.tag_claim(tag=tag, twin=twin, owner=request.user)
    except services.TagUnavailable as exc:
        return _claim_refused(request, exc.messages[0])
    except ValidationError as exc:
        form.add_error(None, exc.messages)
        return _unassigned(request, tag, form, status=400)
    messages.success(request, f"Tag {tag.display_code} is now on {twin.name}. Scan it to log a reading.")
    return redirect(_thing_url(twin.slug))


TAP_FIRST = "Tap the tag first"


@login_required
@require_POST
def tag_reading(request: HttpRequest, token: str) -> HttpResponse:
    """The scan page's one-box form: a reading logged from a scan of the tag, by the owner or by someone the owner
    lets add readings (a keeper). When the owner requires it (NfcSetting, on the NFC tags page) only within minutes
    of a genuine tap of the thing's NTAG 424 DNA tag, so that the reading proves the thing was in hand (a keeper's
    check-in); a copied or replayed tag URL, or no tap, gets a 403 that says what to do."""
    tag = selectors.tag_resolve(token=token)
    if base_url := selectors.moved_to(tag):
        return _moved(request, base_url)
    if tag is None or tag.status != Tag.Status.ACTIVE or not selectors.is_live(tag.twin):
        return not_found(request)
    twin = twin_get(viewer=request.user, slug=tag.twin.slug, need=access.READINGS_WRITE)  # anyone else: 404
    if selectors.genuine_tap_for_readings(twin=twin):
        try:
            nfc.require_genuine_tap(request, twin_id=twin.pk)
        except nfc.GenuineTapRequired as refused:
            return error_response(request, 403, str(refused), context={"title": TAP_FIRST})
    form = ReadingForm(request.POST)
    if form.is_valid():
        try:
            reading_add(
                twin=twin,
                value=form.cleaned_data["value"],
                note=form.cleaned_data["note"],
                source=Reading.Source.TAG,
                by=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Saved {form.cleaned_data['value'].strip()} {twin.reading_unit}".strip() + ".")
            return redirect("thing", slug=twin.slug)
    return render(request, "twins/reading_error.html", {"form": form, "twin": twin}, status=400)


def _claim_refused(request: HttpRequest, message: str) -> HttpResponse:
    return error_response(request, 409, message, context={"title": "Already taken"})


# Private: the owner's tag management. Every view goes through twin_get, so another owner's thing is a 404.


@login_required
def tag_create(request: HttpRequest, slug: str) -> HttpResponse:
    twin = twin_get(viewer=request.user, slug=slug)
    form = TagForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            tag = services.tag_create(twin=twin, label=form.cleaned_data["label"])
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, f"Tag {tag.display_code} added. Print its label or download its QR code.")
            return redirect(_thing_url(twin.slug))
    status = 400 if form.errors else 200
    return render(request, "tags/new.html", {"twin": twin, "form": form}, status=status)


@login_required
@require_GET
def tag_labels(request: HttpRequest, slug: str) -> HttpResponse:
    """A printable sheet: one label (QR, name, code) per active tag."""
    twin = twin_get(viewer=request.user, slug=slug)
    others = print_links(twin)
    other = _printed_link(request, others)
    labels = [(tag, qr.svg_inline(other or tag.url)) for tag in selectors.tag_list_active(twin=twin)]
    site_host = settings.SITE_URL.split("://", 1)[-1]
    context = {"twin": twin, "labels": labels, "site_host": site_host, "print_links": others, "printed": other}
    return render(request, "tags/labels.html", context)


def _printed_link(request: HttpRequest, others: list[dict[str, str]]) -> str | None:
    """`?link=<key>`: print one of the twin's other public links (twins.panels.print_links: a GS1 Digital Link)
    instead of the tag's URL; unknown keys print the tag's URL."""
    key = request.GET.get("link", "")
    return next((item["url"] for item in others if item["key"] == key), None)


@login_required
@require_GET
def tag_show(request: HttpRequest, slug: str, tag_id: int) -> HttpResponse:
    """One tag, as tapping its thumbnail should show it: the QR code large, the URL it carries, the code to type,
    and the downloads (the thumbnail used to link the SVG file itself, which a phone downloads)."""
    tag = selectors.tag_for_owner(viewer=request.user, slug=slug, tag_id=tag_id)
    context = {
        "twin": tag.twin,
        "tag": tag,
        "svg": qr.svg_inline(tag.url),
        "enter_url": f"{settings.SITE_URL}/t/",
        "sun": selectors.tag_sun_state(tag=tag),
    }
    return render(request, "tags/tag.html", context)


def _download(body: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # A tag's URL never changes, so neither does its QR; private because the URL is the tag's secret.
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@require_GET
def tag_qr_png(request: HttpRequest, slug: str, tag_id: int) -> HttpResponse:
    tag = selectors.tag_for_owner(viewer=request.user, slug=slug, tag_id=tag_id)
    url = _printed_link(request, print_links(tag.twin)) or tag.url
    return _download(qr.png_bytes(url), "image/png", f"thingstead-{tag.code}.png")


@login_required
@require_GET
def tag_qr_svg(request: HttpRequest, slug: str, tag_id: int) -> HttpResponse:
    tag = selectors.tag_for_owner(viewer=request.user, slug=slug, tag_id=tag_id)
    url = _printed_link(request, print_links(tag.twin)) or tag.url
    return _download(qr.svg_text(url), "image/svg+xml", f"thingstead-{tag.code}.svg")


@login_required
@require_GET
def tag_ndef(request: HttpRequest, slug: str, tag_id: int) -> HttpResponse:
    """The tag's NDEF message (one URI record: its URL marked as an NFC tap) for an NFC writer app."""
    tag = selectors.tag_for_owner(viewer=request.user, slug=slug, tag_id=tag_id)
    return _download(ndef.uri_message(tag.nfc_url), "application/octet-stream", f"thingstead-{tag.code}.ndef")


@login_required
def tag_nfc(request: HttpRequest, slug: str) -> HttpResponse:
    """NFC for a thing's tags: the `.ndef` downloads, and NTAG 424 DNA SUN provisioning. A POST answers with the
    provisioning file (keys included): the one time the keys are shown."""
    twin = twin_get(viewer=request.user, slug=slug)
    tags = selectors.tag_list_active(twin=twin)
    form = NfcProvisionForm(request.POST if request.method == "POST" else None, tags=tags)
    if request.method == "POST" and form.is_valid():
        try:
            provisioned = nfc.sun_provision(tags=form.cleaned_data["tags"], replace=form.cleaned_data["replace"])
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            fmt = form.cleaned_data["format"]
            body, content_type = nfc_provision.render(provisioned, fmt)
            response = HttpResponse(body, content_type=content_type)
            response["Content-Disposition"] = f'attachment; filename="thingstead-sun-{twin.slug}.{fmt}"'
            response["Cache-Control"] = "no-store"  # keys: never kept by a cache, never shown again
            return response
    context = {
        "twin": twin,
        "form": form,
        "rows": selectors.tag_sun_rows(tags=tags),
        "rekey_tags": selectors.rekey_needed(twin=twin),
        "setting_form": NfcSettingForm(
            initial={"genuine_tap_for_readings": selectors.genuine_tap_for_readings(twin=twin)}
        ),
    }
    return render(request, "tags/nfc.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def tag_nfc_setting(request: HttpRequest, slug: str) -> HttpResponse:
    """The owner's switch: one-tap readings logged from a scan need a genuine tap (tag_reading)."""
    twin = twin_get(viewer=request.user, slug=slug)
    form = NfcSettingForm(request.POST)
    form.is_valid()  # one checkbox: absent is off
    required = bool(form.cleaned_data.get("genuine_tap_for_readings"))
    services.nfc_setting_update(twin=twin, genuine_tap_for_readings=required)
    if required:
        messages.success(request, "Readings logged from a scan of this thing's tag now need a genuine tap.")
    else:
        messages.success(request, "Readings logged from a scan no longer need a genuine tap.")
    return redirect("tag-nfc", slug=twin.slug)


@login_required
@require_POST
def tag_retire(request: HttpRequest, slug: str, tag_id: int) -> HttpResponse:
    tag = selectors.tag_for_owner(viewer=request.user, slug=slug, tag_id=tag_id)
    services.tag_retire(tag=tag)
    messages.success(request, f"Tag {tag.display_code} retired. Its URL now says so and shows nothing else.")
    return redirect(_thing_url(slug))
