"""The inventory part of a moving twin (issue 18): where it is kept and its labels, by name.

Places and labels are the owner's own organisation, not the twin's (a sale drops them: inventory.locations). A
move is the owner bringing their thing to another host, and the thing should land where they keep it, so the
place travels as its path of names (home / kitchen / drawer) and the labels as name and colour, and each is
matched, case-insensitively, to the destination owner's own, and made where they have none of that name. No
primary key and no public id of the source's places travels (a place's printed QR code names the source's place,
which stays there with the owner's other things).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef

from inventory.models import Label, Location, Placement
from twins import events
from twins.models import Twin
from twins.portability import Arrival, PackageError, Part, register


def _path(location: Location) -> list[str]:
    names = []
    seen: set[int] = set()
    while location is not None and location.pk not in seen:
        seen.add(location.pk)
        names.append(location.name)
        location = location.parent
    return list(reversed(names))


def export(twin: Twin) -> dict[str, Any] | None:
    placement = Placement.objects.filter(twin=twin).select_related("location").first()
    labels = list(Label.objects.filter(twins=twin).order_by("name", "id").values("name", "colour"))
    if placement is None and not labels:
        return None
    return {
        "place": None
        if placement is None
        else {"path": _path(placement.location), "moved_at": placement.moved_at.isoformat()},
        "labels": labels,
    }


def _place_here(owner: Any, path: list[str]) -> Location:
    parent = None
    for name in path:
        name = (name or "").strip()[:80]
        if not name:
            raise PackageError("The thing's place has a part without a name.")
        found = Location.objects.filter(owner=owner, parent=parent, name__iexact=name).first()
        parent = found or Location.objects.create(owner=owner, parent=parent, name=name)
    if parent is None:
        raise PackageError("The thing's place has no name.")
    return parent


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    place = data.get("place")
    if place:
        Placement.objects.create(
            twin=arrival.twin,
            location=_place_here(arrival.owner, place["path"]),
            moved_at=datetime.fromisoformat(place["moved_at"]),
        )
    for item in data.get("labels") or []:
        name = (item["name"] or "").strip()[:40]
        if not name:
            raise PackageError("A label of the thing has no name.")
        label = Label.objects.filter(owner=arrival.owner, name__iexact=name).first()
        if label is None:
            label = Label.objects.create(owner=arrival.owner, name=name, colour=item["colour"])
        label.twins.add(arrival.twin)


def _arrival_started(twin_id: int) -> datetime | None:
    """When the arriving twin's restore began here: its row's insert (updated_at is not copied from the package,
    and nothing saves a twin whole while it arrives), so rows a part made for the arrival were created since;
    None for a twin not arriving."""
    return Twin.objects.filter(pk=twin_id, arriving=True).values_list("updated_at", flat=True).first()


def on_arrival_discarded(event: events.ArrivalDiscarded) -> None:
    """ArrivalDiscarded, in the discarding transaction (before the twin's rows go): the places and labels the
    arrival made for the owner (created while the twin arrived, :func:`_arrival_started`) go too, unless the owner
    has put something else in or under them, or on them, since. Those the owner had already, which the package's
    names were matched to, stay."""
    started = _arrival_started(event.twin_id)
    if started is None:
        return
    placement = Placement.objects.filter(twin_id=event.twin_id).select_related("location").first()
    if placement is not None:
        location = placement.location
        placement.delete()  # the place is PROTECTed from its placements
        while location is not None and location.created_at >= started:
            if location.placements.exists() or location.children.exists():
                break
            parent = location.parent
            location.delete()
            location = parent
    on_another = Label.twins.through.objects.filter(label_id=OuterRef("pk")).exclude(twin_id=event.twin_id)
    Label.objects.filter(owner_id=event.owner_id, twins=event.twin_id, created_at__gte=started).exclude(
        Exists(on_another)
    ).delete()


register(
    Part(
        name="inventory",
        export=export,
        restore=_restore,
        after=("twin",),
        what="place and labels",
        replaces=("inventory.Placement", Label.twins.through._meta.label),
    )
)
# Here rather than in apps.py: the move's share of inventory in one module (autodiscovered in TwinsConfig.ready).
events.subscribe(events.ArrivalDiscarded, on_arrival_discarded, in_transaction=True)
