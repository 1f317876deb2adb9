"""HTML views for an owner's things. Thin: validate, call a service, render. Access is in the selectors."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import timesince_filter
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS
from django.views.decorators.http import require_POST

from core.errors import error_response
from core.forms import apply_errors
from core.templatetags.icons import icon
from owners.recent_auth import recent_login_required
from twins import access, attribution, listing, panels, selectors, services
from twins.forms import LostForm, NoteForm, PhotoForm, PublicSettingsForm, ReadingForm, TwinForm
from twins.models import ICONS, Twin
from twins.templatetags.twins_format import num

CARDS_PER_PAGE = 24
# The columns a card reads (_prepare_cards and twins/list.html): the page's rows fetch only these (with the id, owner
# and sort column), not the contact card, attributes, description... of 24 things. A card reading another column
# would cost a query per card: the cards tests' constant query counts catch it.
CARD_FIELDS = ("slug", "name", "icon", "photo", "lost", "latest_value", "latest_unit", "latest_at")


def _render(request: HttpRequest, template: str, context: dict, form=None) -> HttpResponse:
    return render(request, template, context, status=400 if form is not None and form.errors else 200)


@login_required
def thing_list(request: HttpRequest) -> HttpResponse:
    # The cards and the selection bar's count build one search: its planner estimate is asked once.
    with listing.one_request():
        return _cards(request)


def _cards(request: HttpRequest) -> HttpResponse:
    filters = selectors.TwinFilters.from_params(request.GET)
    context = {
        "filters": filters,
        "lost_param": {True: "yes", False: "no"}.get(filters.lost, ""),
        "filter_controls": listing.filter_controls(request.user, filters.extra),
        "selection_form": listing.selection_form(),
        "kinds": list(ICONS.items()),
        "sorts": list(selectors.SORT_LABELS.items()),
        "filter_error": "",
    }
    try:
        page = selectors.twin_page(
            viewer=request.user,
            filters=filters,
            cursor=request.GET.get("cursor", ""),
            size=CARDS_PER_PAGE,
            include_kept=True,
            fields=CARD_FIELDS,
        )
    except ValidationError as exc:
        # A filter, a feature's filter or a page link refused its value: say so, list nothing.
        return render(
            request, "twins/list.html", {**context, "page": None, "filter_error": " ".join(exc.messages)}, status=400
        )
    listing.attach_badges(request.user, page.object_list)
    _prepare_cards(page.object_list, selectable=bool(context["selection_form"]))
    base = filters.as_params()
    page.links = {
        "next": "?" + urlencode([*base, ("cursor", page.next_cursor)]) if page.next_cursor else "",
        "previous": "?" + urlencode([*base, ("cursor", page.previous_cursor)]) if page.previous_cursor else "",
        "first": "?" + urlencode(base),
    }
    context["paged"] = bool(request.GET.get("cursor"))
    context["sections"] = listing.sections(request, filters)
    return render(request, "twins/list.html", {**context, "page": page})


def _url_of(name: str) -> Callable[[str], str]:
    """The URL of the route `name` for a thing's slug, reversed once a page instead of once a card (a reverse()
    costs ~40 µs of the worker's CPU). Quoted as reverse() quotes a path (a slug's characters never need it)."""
    head, _, tail = reverse(name, kwargs={"slug": _SLUG_MARK}).rpartition(_SLUG_MARK)
    return lambda slug: f"{head}{quote(slug, safe=RFC3986_SUBDELIMS + '~:@')}{tail}"


_SLUG_MARK = "~slug~"


def _prepare_cards(twins: list[Twin], *, selectable: bool) -> None:
    """What each card prints, worked out in Python once a page: the card's links, icon and latest reading, read by
    the template as plain attributes. In the template, a `{% url %}` a card, the icon tag and the reading's filters
    were ~1.5 ms of a page's ~25 ms of CPU."""
    thing_url, photo_url = _url_of("thing"), _url_of("thing-photo")
    for twin in twins:
        found = twin.__dict__
        # Only a list with kept things annotates the role, and only the tags feature the tag count: the template
        # reads both on every card, and each failed lookup costs Django's template engine a dir() of the model
        # instance (120 a page, ~3 ms here).
        found.setdefault("access_role", "")
        found.setdefault("tag_count", None)  # panels.register_list_annotation
        found["card_url"] = thing_url(twin.slug)
        found["card_photo_url"] = photo_url(twin.slug) if twin.photo else ""
        found["card_icon"] = "" if twin.photo else icon(twin.icon)
        found["card_selectable"] = selectable and not found["access_role"]
        found["card_latest"] = (
            f"{num(twin.latest_value)} {twin.latest_unit} · {timesince_filter(twin.latest_at)} ago"
            if twin.latest_at
            else ""
        )


@login_required
def thing_create(request: HttpRequest) -> HttpResponse:
    form = TwinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            twin = services.twin_create(owner=request.user, **data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{twin.name} added. Attach a tag so you can scan it.")
            return redirect("thing", slug=twin.slug)
    return _render(request, "twins/form.html", {"form": form, "creating": True}, form)


@login_required
def thing_detail(request: HttpRequest, slug: str) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.VIEW)
    can = twin.access.flags()
    context = {
        "twin": twin,
        "can": can,
        "chart": selectors.chart_points(twin=twin) if can["readings_read"] else [],
        # Each with who recorded it as of when (twins.attribution): a buyer's page says "a previous owner".
        "readings": attribution.attribute(selectors.reading_list(twin=twin)[:20], twin=twin, viewer_id=request.user.pk)
        if can["readings_read"]
        else [],
        "notes": attribution.attribute(twin.notes.all()[:50], twin=twin, viewer_id=request.user.pk)
        if can["journal_read"]
        else [],
        "reading_form": ReadingForm(),
        "note_form": NoteForm(),
        # The features' panels and links the viewer's capabilities allow (each declares what it needs; owner-only
        # unless it says otherwise): a keeper sees the maintenance, never the tags, purchase or sharing.
        **panels.page_context(request, twin),
    }
    if can["owner"]:
        # The owner's parts: lost mode and the public page (the owner's contact data).
        context.update(
            lost_form=LostForm(initial={"lost": twin.lost, "lost_reward": twin.lost_reward}),
            public_contact=twin.contact_card().public_contact(),
        )
    return render(request, "twins/detail.html", context)


def _edit_twin(request: HttpRequest, slug: str, form_class, template: str, done: str) -> HttpResponse:
    """One form over the twin's fields, saved through twin_update (edit details, public page settings)."""
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    form = form_class(request.POST or None, instance=Twin.objects.get(pk=twin.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.twin_update(twin=twin, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("thing", slug=twin.slug)
    return _render(request, template, {"form": form, "twin": twin}, form)


@login_required
def thing_edit(request: HttpRequest, slug: str) -> HttpResponse:
    return _edit_twin(request, slug, TwinForm, "twins/form.html", "Saved.")


@login_required
def thing_photo(request: HttpRequest, slug: str) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.VIEW)
    return photo_response(twin)


def photo_response(twin: Twin) -> HttpResponse:
    """Serve a twin's photo through Django so access rules apply (media is not a public folder)."""
    if not twin.photo:
        raise Http404("No photo.")
    try:
        handle = twin.photo.open("rb")
    except FileNotFoundError:
        raise Http404("No photo.") from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
def thing_photo_upload(request: HttpRequest, slug: str) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    form = PhotoForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if request.POST.get("remove") == "1":
            services.twin_set_photo(twin=twin, photo=None)
            messages.success(request, "Photo removed.")
            return redirect("thing", slug=twin.slug)
        if form.is_valid():
            try:
                services.twin_set_photo(twin=twin, photo=form.cleaned_data["photo"])
            except ValidationError as exc:
                form.add_error("photo", exc.messages)
            else:
                messages.success(request, "Photo saved.")
                return redirect("thing", slug=twin.slug)
    return _render(request, "twins/photo.html", {"form": form, "twin": twin}, form)


@login_required
@require_POST
def thing_archive(request: HttpRequest, slug: str) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    archived = request.POST.get("archived", "1") == "1"
    services.twin_set_archived(twin=twin, archived=archived)
    messages.success(request, f"{twin.name} {'archived' if archived else 'restored'}.")
    return redirect("things" if archived else "thing", **({} if archived else {"slug": twin.slug}))


@login_required
def thing_public_settings(request: HttpRequest, slug: str) -> HttpResponse:
    return _edit_twin(request, slug, PublicSettingsForm, "twins/public_settings.html", "Public page settings saved.")


@login_required
@require_POST
def thing_lost(request: HttpRequest, slug: str) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    form = LostForm(request.POST)
    if not form.is_valid():
        return _render(request, "twins/lost.html", {"form": form, "twin": twin}, form)
    services.twin_set_lost(twin=twin, lost=form.cleaned_data["lost"], reward=form.cleaned_data["lost_reward"])
    messages.success(request, "Lost mode is on." if twin.lost else "Lost mode is off.")
    return redirect("thing", slug=twin.slug)


@login_required
@require_POST
def reading_create(request: HttpRequest, slug: str) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.READINGS_WRITE)
    form = ReadingForm(request.POST)
    if form.is_valid():
        # Always "manual": a reading "from a scan" is logged through the tag's own form (tags: /t/<token>/reading),
        # where the owner's "genuine tap required" setting is enforced; a `via=tag` here would bypass it.
        try:
            services.reading_add(
                twin=twin,
                value=form.cleaned_data["value"],
                note=form.cleaned_data["note"],
                source="manual",
                by=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Saved {form.cleaned_data['value'].strip()} {twin.reading_unit}".strip() + ".")
            return redirect("thing", slug=twin.slug)
    return _render(request, "twins/reading_error.html", {"form": form, "twin": twin}, form)


@login_required
def note_create(request: HttpRequest, slug: str) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.JOURNAL_WRITE)
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.note_create(twin=twin, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Note added.")
            return redirect("thing", slug=twin.slug)
    return _render(request, "twins/note_form.html", {"form": form, "twin": twin}, form)


@login_required
def note_edit(request: HttpRequest, slug: str, note_id: int) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.JOURNAL_WRITE)
    note = selectors.note_get(twin=twin, note_id=note_id)
    form = NoteForm(request.POST or None, instance=selectors.note_get(twin=twin, note_id=note_id))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if data.get("time") is None:
            data.pop("time")
        try:
            services.note_update(note=note, **data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Note saved.")
            return redirect("thing", slug=twin.slug)
    return _render(request, "twins/note_form.html", {"form": form, "twin": twin, "note": note}, form)


@login_required
@require_POST
def note_delete(request: HttpRequest, slug: str, note_id: int) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    services.note_delete(note=selectors.note_get(twin=twin, note_id=note_id))
    messages.success(request, "Note deleted.")
    return redirect("thing", slug=twin.slug)


@login_required
@recent_login_required
@require_POST
def thing_deactivate(request: HttpRequest, slug: str) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    if request.POST.get("confirm") != twin.name:
        messages.error(request, "Type the thing's name exactly to confirm.")
        return redirect("thing", slug=twin.slug)
    try:
        services.twin_deactivate(twin=twin)
    except ValidationError as exc:
        return error_response(request, 409, " ".join(exc.messages))
    messages.success(request, f"{twin.name} is deactivated. Its history stays verifiable; nothing can be added.")
    return redirect("thing", slug=twin.slug)
