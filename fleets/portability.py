"""The fleets part of a moving twin (issue 18): the groups it is in, by name.

Groups are the owner's own organisation (a sale drops the thing from them: fleets.services). A move is the owner
bringing their thing to another host, so its groups travel as names ("Herd", or "Site / Room" with the site's
description) and are matched, case-insensitively, to the destination owner's groups, made where they have none
of that name; the thing joins them with the time it joined on the source. The other members of a group are other
twins, which stay where they are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleets.models import Group, Membership
from twins.models import Twin
from twins.portability import Arrival, PackageError, Part, register


def _group(group: Group) -> dict[str, Any]:
    return {"name": group.name, "description": group.description}


def export(twin: Twin) -> list[dict[str, Any]]:
    memberships = Membership.objects.filter(twin=twin).select_related("group__parent").order_by("added_at", "id")
    return [
        {
            "parent": _group(item.group.parent) if item.group.parent_id else None,
            "group": _group(item.group),
            "added_at": item.added_at.isoformat(),
        }
        for item in memberships
    ]


def _group_here(owner: Any, data: dict[str, Any], parent: Group | None) -> Group:
    name = (data.get("name") or "").strip()[:80]
    if not name:
        raise PackageError("A group of the thing has no name.")
    found = Group.objects.filter(owner=owner, parent=parent, name__iexact=name).first()
    return found or Group.objects.create(owner=owner, parent=parent, name=name, description=data["description"])


def _restore(data: list[dict[str, Any]], arrival: Arrival) -> None:
    for item in data:
        parent = _group_here(arrival.owner, item["parent"], None) if item["parent"] else None
        group = _group_here(arrival.owner, item["group"], parent)
        membership, _ = Membership.objects.get_or_create(group=group, twin=arrival.twin)
        Membership.objects.filter(pk=membership.pk).update(added_at=datetime.fromisoformat(item["added_at"]))


register(
    Part(
        name="fleets", export=export, restore=_restore, after=("twin",), what="groups", replaces=("fleets.Membership",)
    )
)
