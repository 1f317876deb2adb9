"""HTML pages of groups: the list (and a form to add one), a group's page (members and their latest readings, a
combined chart, a map of last known locations, the groups inside it), edit, delete, and taking a thing out.
Thin: parse, call a service or selector, render. Every group is looked up among the signed-in owner's own."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import error_response
from core.forms import apply_errors
from fleets import selectors, services
from fleets.forms import GroupForm
from fleets.models import Group
from twins import selectors as twin_selectors

MEMBERS_PER_PAGE = 50


def _status(form) -> int:
    return 400 if form.is_bound and form.errors else 200


def _parent(request: HttpRequest, raw: str) -> Group | None:
    return selectors.group_get(viewer=request.user, group_id=int(raw)) if raw else None


@login_required
def group_list(request: HttpRequest) -> HttpResponse:
    """Every group (sites with their rooms under them) and a form to add one."""
    form = GroupForm(request.POST or None, owner=request.user, initial={"parent": request.GET.get("parent", "")})
    if request.method == "POST" and form.is_valid():
        try:
            group = services.group_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                parent=_parent(request, form.cleaned_data["parent"]),
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{group.name} added. Add things to it from the cards page: select, then act.")
            return redirect("fleets-group", group_id=group.pk)
    return render(
        request,
        "fleets/groups.html",
        {"rows": selectors.group_tree(viewer=request.user), "form": form},
        status=_status(form),
    )


@login_required
def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    group = selectors.group_get(viewer=request.user, group_id=group_id)
    children = selectors.group_children(group=group)
    members = selectors.group_members(group=group, children=children)
    page = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    inside = selectors.memberships_of(twins=page.object_list, groups=[group, *children])
    for twin in page.object_list:
        twin.direct_member = group.pk in inside.get(twin.pk, ())
        twin.rooms = [child.name for child in children if child.pk in inside.get(twin.pk, ())]
    chart = selectors.group_chart(members=members, kind=request.GET.get("kind", ""))
    located = selectors.group_locations(members=members)
    return render(
        request,
        "fleets/group.html",
        {
            "group": group,
            "children": children,
            "page": page,
            "chart": chart,
            "chart_members": selectors.CHART_MEMBERS,
            "chart_days": selectors.CHART_DAYS,
            "map_points": selectors.map_points(located),
            "map_members": selectors.MAP_MEMBERS,
        },
    )


@login_required
def group_edit(request: HttpRequest, group_id: int) -> HttpResponse:
    """Rename a group, change its description, or move it inside a site (or to the top level)."""
    group = selectors.group_get(viewer=request.user, group_id=group_id)
    form = GroupForm(
        request.POST or None,
        owner=request.user,
        exclude=group.pk,
        initial={"name": group.name, "parent": str(group.parent_id or ""), "description": group.description},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            parent = _parent(request, data["parent"])
            # One transaction: a refused rename must not leave the move behind.
            with transaction.atomic():
                if parent != group.parent:
                    services.group_move(group=group, parent=parent)
                services.group_update(group=group, name=data["name"], description=data["description"])
        except ValidationError as exc:
            apply_errors(form, exc)
            group.refresh_from_db()
        else:
            messages.success(request, "Saved.")
            return redirect("fleets-group", group_id=group.pk)
    return render(request, "fleets/group_form.html", {"group": group, "form": form}, status=_status(form))


@login_required
def group_delete(request: HttpRequest, group_id: int) -> HttpResponse:
    """GET says what deleting does (the things stay; groups inside move to the top level); POST does it."""
    group = selectors.group_get(viewer=request.user, group_id=group_id)
    children = selectors.group_children(group=group)
    context = {"group": group, "children": children}
    if request.method == "POST":
        try:
            services.group_delete(group=group)
        except ValidationError as exc:
            return render(request, "fleets/group_delete.html", {**context, "error": " ".join(exc.messages)}, status=400)
        messages.success(request, f"{group.name} deleted. Its things are still yours.")
        return redirect("fleets-groups")
    return render(request, "fleets/group_delete.html", context)


@login_required
@require_POST
def member_remove(request: HttpRequest, group_id: int) -> HttpResponse:
    """Take one thing (`thing`: its slug) out of the group; the thing stays the owner's."""
    group = selectors.group_get(viewer=request.user, group_id=group_id)
    slug = request.POST.get("thing", "").strip()
    if not slug:
        return error_response(request, 400, "Say which thing to take out of the group.")
    twin = twin_selectors.twin_get(viewer=request.user, slug=slug)
    if services.members_remove(group=group, twins=[twin]):
        messages.success(request, f"{twin.name} is no longer in {group.name}.")
    else:
        messages.info(request, f"{twin.name} was not in {group.name} itself (perhaps in a group inside it).")
    return redirect("fleets-group", group_id=group.pk)


@login_required
@require_POST
def thing_groups(request: HttpRequest, slug: str) -> HttpResponse:
    """The thing page's panel: put the thing in exactly the checked groups (`group`: ids, several)."""
    twin = twin_selectors.twin_get(viewer=request.user, slug=slug)
    raw = set(request.POST.getlist("group"))
    chosen = selectors.groups_by_id(owner=request.user, ids=[int(value) for value in raw if value.isdigit()])
    if len(chosen) != len(raw):
        return error_response(request, 400, "No such group among yours: pick from your groups.")
    services.thing_set_groups(twin=twin, groups=chosen)
    messages.success(request, f"{twin.name}'s groups saved.")
    return redirect("thing", slug=twin.slug)
