"""Groups on the cards page: their own cards above the things' (a section), the `?group=<id>` filter (a site's
rooms' things included, as on the group's page), a badge per group on each card and group names in the search."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string

from fleets.models import Group, Membership
from fleets.selectors import group_choices, group_list
from twins import listing
from twins.models import Twin

# Groups shown as cards above the things; past this the section links to the groups page.
SECTION_GROUPS = 24


def _is_plain_first_page(request, filters) -> bool:
    """The unfiltered, unarchived list's first page: where an owner looks for their groups. A filtered list is
    about things, and a later page would repeat the groups. Compared with the default filters as a whole, so a
    filter the list gains later hides the section too; `page` and `cursor` are the pagers' parameters."""
    return request.GET.get("page", "1") in ("", "1") and not request.GET.get("cursor") and filters == type(filters)()


def groups_section(request, filters) -> str:
    """The viewer's groups as cards (one query), or "" when the list is filtered or has no groups."""
    if not getattr(request.user, "is_authenticated", False) or not _is_plain_first_page(request, filters):
        return ""
    groups = list(group_list(viewer=request.user)[: SECTION_GROUPS + 1])
    if not groups:
        return ""
    # No request: the cards need nothing of it, and with it every context processor (the top bar's links, the
    # inbox...) would run again for this one section.
    return render_to_string(
        "fleets/_cards_section.html", {"groups": groups[:SECTION_GROUPS], "more": len(groups) > SECTION_GROUPS}
    )


def members_of_group(group_id: int) -> QuerySet:
    """Twin ids in the group or in a group inside it (a subquery). The groups first, then their members by
    `group_id IN (...)`: an OR over the membership and the group's parent would join every membership row."""
    groups = Group.objects.filter(Q(pk=group_id) | Q(parent_id=group_id)).values("pk")
    return Membership.objects.filter(group_id__in=groups).values("twin_id")


def _filter_by_group(qs: QuerySet, raw: str, viewer) -> QuerySet:
    """The things in the group (or a group inside it). The group is checked once a request (listing.once: the cards
    and the selection bar's check both apply this filter). Its members are gathered once a request too
    (listing.gathered): a small group's ids are fetched by primary key, where the list's walk in name order would
    test every one of the owner's things against the members; a big group (past listing.GATHERED_IDS) keeps the
    walk, which meets a page of its members soon."""
    viewer_id = getattr(viewer, "pk", None)
    # At most 18 digits: a bigger number is no group's id (and would overflow the database's bigint).
    group_id = int(raw) if raw.isdigit() and len(raw) <= 18 else None
    if group_id is None or not listing.once(
        ("fleets.group", viewer_id, group_id),
        lambda: Group.objects.filter(pk=group_id, owner_id=viewer_id).exists(),
    ):
        raise ValidationError("No such group among yours: pick one from the list.")
    return qs.filter(listing.gathered(Q(pk__in=members_of_group(group_id))))


def _card_groups(viewer, twins: list[Twin]) -> dict[int, list[listing.Badge]]:
    rows = (
        Membership.objects.filter(twin_id__in=[twin.pk for twin in twins], group__owner=viewer)
        .order_by("group__name", "group_id")
        .values_list("twin_id", "group__name")
    )
    found: dict[int, list[listing.Badge]] = {}
    for twin_id, name in rows:
        found.setdefault(twin_id, []).append(listing.Badge(text=name, kind="group"))
    return found


def _search_groups(query: str, viewer, *, others: bool = True) -> Q:
    return Q(
        pk__in=Membership.objects.filter(
            group__owner_id=getattr(viewer, "pk", None), group__name__icontains=query
        ).values("twin_id")
    )


def connect() -> None:
    listing.register_section("40-fleets.groups", groups_section)  # above the selection bar ("50-bulk")
    listing.register_filter(
        listing.ListFilter(
            param="group",
            label="Group",
            apply=_filter_by_group,
            choices=group_choices,
            help_text="A group's id: only things in that group (or in a group inside it).",
            order=30,
        )
    )
    listing.register_card_badges("fleets.groups", _card_groups)
    listing.register_search("fleets.groups", _search_groups)
