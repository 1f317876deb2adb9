"""HTML pages of places and labels, and the thing page's place and label forms. Thin: parse, call a service,
render. Every object is looked up scoped to the signed-in owner (a stranger's id is the one 404)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core import qr
from core.errors import error_response
from core.forms import apply_errors
from inventory import labels, locations, moving
from inventory.forms import LabelForm, LocationForm
from inventory.models import Location
from twins import selectors


def _status(form) -> int:
    return 400 if form.is_bound and form.errors else 200


def _parent(request: HttpRequest, raw: str) -> Location | None:
    return locations.location_get(viewer=request.user, location_id=raw) if raw else None


# --- Places -------------------------------------------------------------------------------------------------------


@login_required
def location_list(request: HttpRequest) -> HttpResponse:
    """Every place, as a tree, and a form to add one."""
    choices = locations.location_choices(request.user)
    form = LocationForm(request.POST or None, choices=choices, initial={"parent": request.GET.get("parent", "")})
    if request.method == "POST" and form.is_valid():
        try:
            location = locations.location_create(
                owner=request.user, name=form.cleaned_data["name"], parent=_parent(request, form.cleaned_data["parent"])
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{location.name} added.")
            return redirect("inventory-location", location_id=location.public_id)
    tree = locations.tree_of(request.user)
    # Things directly in each place (archived ones are not on the shelf any more).
    counts = dict(
        Location.objects.filter(owner=request.user)
        .annotate(n=Count("placements", filter=Q(placements__twin__archived_at__isnull=True)))
        .values_list("pk", "n")
    )
    rows = [
        {"location": location, "depth": depth, "things": counts.get(location.pk, 0)}
        for location, depth in tree.ordered()
    ]
    return render(request, "inventory/locations.html", {"rows": rows, "form": form}, status=_status(form))


@login_required
def location_detail(request: HttpRequest, location_id: str) -> HttpResponse:
    """A place: its breadcrumb, the places inside, every thing in it or in a place inside it, its QR."""
    location = locations.location_get(viewer=request.user, location_id=location_id)
    tree = locations.tree_of(request.user)
    move_url = f"{settings.SITE_URL}{reverse('inventory-location-move', args=[location.public_id])}"
    things = list(locations.things_in(location=location, tree=tree))
    return render(
        request,
        "inventory/location.html",
        {
            "location": location,
            "path": tree.path(location),
            "children": tree.children.get(location.pk, []),
            "things": [
                {"twin": twin, "path": tree.path(twin.placement.location)[len(tree.path(location)) :]}
                for twin in things
            ],
            "move_url": move_url,
            "qr_svg": qr.svg_inline(move_url),
        },
    )


@login_required
def location_edit(request: HttpRequest, location_id: str) -> HttpResponse:
    """Rename a place or move it inside another (never inside itself or what it holds)."""
    location = locations.location_get(viewer=request.user, location_id=location_id)
    tree = locations.tree_of(request.user)
    # It cannot go inside itself or anything inside it: those are not offered (the service refuses them too).
    inside = {below.public_id for below in tree.below(location)} | {location.public_id}
    choices = [(value, text) for value, text in locations.location_choices(request.user) if value not in inside]
    form = LocationForm(
        request.POST or None,
        choices=choices,
        initial={"name": location.name, "parent": location.parent.public_id if location.parent_id else ""},
    )
    if request.method == "POST" and form.is_valid():
        try:
            locations.location_update(
                location=location, name=form.cleaned_data["name"], parent=_parent(request, form.cleaned_data["parent"])
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("inventory-location", location_id=location.public_id)
    return render(request, "inventory/location_form.html", {"location": location, "form": form}, status=_status(form))


@login_required
def location_delete(request: HttpRequest, location_id: str) -> HttpResponse:
    """GET says what deleting does to what the place holds; POST does it."""
    location = locations.location_get(viewer=request.user, location_id=location_id)
    outcome = locations.delete_outcome(location=location)
    if request.method == "POST":
        parent = location.parent
        try:
            locations.location_delete(location=location)
        except ValidationError as exc:
            return render(
                request,
                "inventory/location_delete.html",
                {"location": location, "sentence": outcome.sentence(location.name), "error": " ".join(exc.messages)},
                status=400,
            )
        messages.success(request, f"{location.name} deleted.")
        if parent is not None:
            return redirect("inventory-location", location_id=parent.public_id)
        return redirect("inventory-locations")
    return render(
        request, "inventory/location_delete.html", {"location": location, "sentence": outcome.sentence(location.name)}
    )


@login_required
def location_move(request: HttpRequest, location_id: str) -> HttpResponse:
    """What a place's QR opens: start moving things here (POST), then scan their tags."""
    location = locations.location_get(viewer=request.user, location_id=location_id)
    if request.method == "POST":
        moving.move_start(request, location=location)
        messages.success(request, f"Moving things to {location.name}: now scan each thing's tag.")
        return redirect("inventory-location-move", location_id=location.public_id)
    tree = locations.tree_of(request.user)
    open_move = moving.move_open(request)
    return render(
        request,
        "inventory/location_move.html",
        {
            "location": location,
            "path": tree.path(location),
            "moving_here": open_move is not None and open_move.pk == location.pk,
            "moving_elsewhere": open_move if open_move is not None and open_move.pk != location.pk else None,
            "things": list(locations.things_in(location=location, tree=tree).filter(placement__location=location)),
            "minutes": moving.MOVE_MINUTES,
        },
    )


@login_required
@require_POST
def move_end(request: HttpRequest) -> HttpResponse:
    target = moving.move_open(request)
    moving.move_end(request)
    messages.success(request, "Done moving.")
    if target is not None:
        return redirect("inventory-location", location_id=target.public_id)
    return redirect("inventory-locations")


@login_required
@require_POST
def thing_location(request: HttpRequest, slug: str) -> HttpResponse:
    """Put a thing in a place (`location`: a place's id, empty for none). `via=scan`: from the scan page's "Move
    here", back to the move page to scan the next."""
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    raw = request.POST.get("location", "").strip()
    location = locations.location_get(viewer=request.user, location_id=raw) if raw else None
    locations.thing_place(twin=twin, location=location)
    if location is None:
        messages.success(request, f"{twin.name} has no place now.")
    else:
        messages.success(request, f"{twin.name} is in {location.name} now.")
    if request.POST.get("via") == "scan" and location is not None:
        return redirect("inventory-location-move", location_id=location.public_id)
    return redirect("thing", slug=twin.slug)


# --- Labels -------------------------------------------------------------------------------------------------------


@login_required
def label_list(request: HttpRequest) -> HttpResponse:
    form = LabelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            label = labels.label_create(owner=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Label {label.name} added.")
            return redirect("inventory-labels")
    rows = [
        {"label": label, "text": labels.text_colour(label.colour), "count": label.count}
        for label in labels.labels_of_owner(request.user).annotate(count=Count("twins"))
    ]
    return render(request, "inventory/labels.html", {"rows": rows, "form": form}, status=_status(form))


@login_required
def label_edit(request: HttpRequest, label_id: int) -> HttpResponse:
    label = labels.label_get(viewer=request.user, label_id=label_id)
    form = LabelForm(request.POST or None, initial={"name": label.name, "colour": label.colour})
    if request.method == "POST" and form.is_valid():
        try:
            labels.label_update(label=label, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("inventory-labels")
    return render(request, "inventory/label_form.html", {"label": label, "form": form}, status=_status(form))


@login_required
@require_POST
def label_delete(request: HttpRequest, label_id: int) -> HttpResponse:
    label = labels.label_get(viewer=request.user, label_id=label_id)
    labels.label_delete(label=label)
    messages.success(request, f"Label {label.name} deleted; the things it was on are unchanged.")
    return redirect("inventory-labels")


@login_required
@require_POST
def thing_labels(request: HttpRequest, slug: str) -> HttpResponse:
    """Set a thing's labels to the ticked ones."""
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    raw = request.POST.getlist("labels")
    if not all(value.isdigit() for value in raw):
        return error_response(request, 400, "Pick labels from the list.")
    try:
        chosen = labels.labels_by_id(owner=request.user, ids=[int(value) for value in raw])
        labels.thing_set_labels(twin=twin, labels=chosen)
    except ValidationError as exc:
        return error_response(request, 400, " ".join(exc.messages))
    messages.success(request, f"Labels of {twin.name} saved.")
    return redirect("thing", slug=twin.slug)
