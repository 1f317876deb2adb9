"""Places: create, rename, move (never under itself), delete (what it holds moves up), and where things are.

An owner's places form a small tree, loaded whole in one query (a household has tens of places, not
thousands), so breadcrumbs, the "everything inside" of a place and cycle checks are computed in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone

from inventory.models import Label, Location, Placement
from twins import events, leaving, listing
from twins.models import Twin

NAME_MAX = 80


@dataclass(frozen=True)
class Tree:
    """An owner's places: by id, and each place's children."""

    by_id: dict[int, Location]
    children: dict[int | None, list[Location]]

    def path(self, location: Location) -> list[Location]:
        """From the top place down to `location` (its breadcrumb)."""
        found = []
        current: Location | None = self.by_id.get(location.pk, location)
        while current is not None and len(found) <= len(self.by_id):
            found.append(current)
            current = self.by_id.get(current.parent_id) if current.parent_id else None
        return list(reversed(found))

    def below(self, location: Location) -> list[Location]:
        """Every place inside `location`, at any depth (not itself)."""
        found: list[Location] = []
        pending = list(self.children.get(location.pk, []))
        while pending:
            current = pending.pop(0)
            found.append(current)
            pending.extend(self.children.get(current.pk, []))
        return found

    def ordered(self) -> list[tuple[Location, int]]:
        """Every place with its depth, parents before children (for selects and the places page)."""
        found: list[tuple[Location, int]] = []

        def walk(parent_id: int | None, depth: int) -> None:
            for child in self.children.get(parent_id, []):
                found.append((child, depth))
                walk(child.pk, depth + 1)

        walk(None, 0)
        return found


def tree_of(owner) -> Tree:
    locations = list(Location.objects.filter(owner=owner).order_by("name", "id"))
    children: dict[int | None, list[Location]] = {}
    for location in locations:
        children.setdefault(location.parent_id, []).append(location)
    return Tree(by_id={location.pk: location for location in locations}, children=children)


def location_get(*, viewer, location_id: str) -> Location:
    """One of the viewer's places; anyone else's (or none) is the one 404."""
    if not getattr(viewer, "is_authenticated", False):
        raise Http404("No such place.")
    try:
        return Location.objects.get(public_id=location_id, owner=viewer)
    except Location.DoesNotExist:
        raise Http404("No such place.") from None


@dataclass(frozen=True)
class OwnerRows:
    """An owner's labels [(id, name)] and places [(id, public id, name, parent id)], each by name then id."""

    labels: list[tuple[int, str]]
    places: list[tuple[int, str, str, int | None]]

    def place_choices(self) -> list[tuple[str, str]]:
        """[(public id, "Home > Kitchen")] of every place, parents first (as Tree.ordered and Tree.path give)."""
        children: dict[int | None, list[tuple[int, str, str]]] = {}
        for pk, public_id, name, parent_id in self.places:
            children.setdefault(parent_id, []).append((pk, public_id, name))
        found: list[tuple[str, str]] = []

        def walk(parent_id: int | None, names: tuple[str, ...]) -> None:
            for pk, public_id, name in children.get(parent_id, []):
                found.append((public_id, " › ".join((*names, name))))
                walk(pk, (*names, name))

        walk(None, ())
        return found

    def place_and_inside(self, public_id: str) -> list[int] | None:
        """The ids of the place `public_id` and of every place inside it (None: no such place of the owner's)."""
        top = next((pk for pk, public, _, _ in self.places if public == public_id), None)
        if top is None:
            return None
        children: dict[int | None, list[int]] = {}
        for pk, _, _, parent_id in self.places:
            children.setdefault(parent_id, []).append(pk)
        found, pending, seen = [top], [top], {top}
        while pending:
            for child in children.get(pending.pop(), []):
                if child not in seen:
                    seen.add(child)
                    found.append(child)
                    pending.append(child)
        return found


def owner_rows(viewer) -> OwnerRows:
    """The viewer's labels and places in one statement, once a request (twins.listing.once): the cards page's filter
    form lists both, and the label and place filters check a value against them (the page and the selection bar
    each apply the filters). Hand-written: on every cards page, Django compiling two small queries cost more than
    running them."""
    owner_id = getattr(viewer, "pk", None)

    def read() -> OwnerRows:
        if owner_id is None:
            return OwnerRows(labels=[], places=[])
        with connection.cursor() as cursor:
            cursor.execute(_OWNER_ROWS, [owner_id, owner_id])
            rows = cursor.fetchall()
        return OwnerRows(
            labels=[(pk, name) for kind, pk, name, _, _ in rows if kind == 0],
            places=[(pk, public_id, name, parent_id) for kind, pk, name, public_id, parent_id in rows if kind == 1],
        )

    return listing.once(("inventory.owner_rows", owner_id), read)


def location_choices(owner) -> list[tuple[str, str]]:
    """[(public id, "Home > Kitchen")] of every place, parents first."""
    return owner_rows(owner).place_choices()


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the place a name."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"At most {NAME_MAX} characters."})
    return name


def _check_parent(*, owner, location: Location | None, parent: Location | None) -> None:
    if parent is None:
        return
    if parent.owner_id != owner.pk:
        raise ValidationError({"parent": "No such place."})
    if location is not None:
        tree = tree_of(owner)
        if parent.pk == location.pk or parent.pk in {below.pk for below in tree.below(location)}:
            raise ValidationError(
                {"parent": f"{location.name} cannot go inside {parent.name}: {parent.name} is inside {location.name}."}
            )


def _save(location: Location) -> Location:
    try:
        with transaction.atomic():
            location.save()
    except IntegrityError:
        where = f"in {location.parent.name}" if location.parent_id else "at the top level"
        raise ValidationError({"name": f"You already have a place called {location.name} {where}."}) from None
    return location


@transaction.atomic
def location_create(*, owner, name: str, parent: Location | None = None) -> Location:
    _check_parent(owner=owner, location=None, parent=parent)
    return _save(Location(owner=owner, name=_clean_name(name), parent=parent))


@transaction.atomic
def location_update(*, location: Location, name: str | None = None, parent: Location | bool | None = False) -> Location:
    """Rename and/or move a place (`parent` None: to the top level; False: where it is). A place cannot go inside
    itself or anything inside it."""
    # Lock the owner's places: two moves at once could each pass the cycle check and together make a loop.
    list(Location.objects.select_for_update().filter(owner_id=location.owner_id).values_list("pk", flat=True))
    if name is not None:
        location.name = _clean_name(name)
    if parent is not False:
        _check_parent(owner=location.owner, location=location, parent=parent)
        location.parent = parent
    return _save(location)


@dataclass(frozen=True)
class DeleteOutcome:
    """What deleting a place does to what it holds: its things and places move to `into` (None: the things
    have no place any more and the places go to the top level)."""

    things: int
    places: int
    into: Location | None

    def sentence(self, name: str) -> str:
        where = f"move to {self.into.name}" if self.into else None
        parts = []
        if self.things:
            things = f"{self.things} thing{'s' if self.things != 1 else ''}"
            parts.append(f"the {things} in it will {where or 'have no place'}")
        if self.places:
            places = f"{self.places} place{'s' if self.places != 1 else ''}"
            parts.append(f"the {places} in it will {where or 'move to the top level'}")
        if not parts:
            return f"{name} holds nothing: deleting it moves nothing."
        return f"Deleting {name}: " + "; ".join(parts) + "."


def delete_outcome(*, location: Location) -> DeleteOutcome:
    into = location.parent
    return DeleteOutcome(
        things=Placement.objects.filter(location=location).count(),
        places=Location.objects.filter(parent=location).count(),
        into=into,
    )


@transaction.atomic
def location_delete(*, location: Location) -> DeleteOutcome:
    """Delete a place; what it directly holds moves up one level (things to its parent place, or no place at the
    top; places to its parent, or the top level)."""
    outcome = delete_outcome(location=location)
    if location.parent_id:
        Placement.objects.filter(location=location).update(location_id=location.parent_id, moved_at=timezone.now())
    else:
        Placement.objects.filter(location=location).delete()
    try:
        with transaction.atomic():
            Location.objects.filter(parent=location).update(parent_id=location.parent_id)
    except IntegrityError:
        # A place inside it is named like one where it would move up to: two of one name would be ambiguous.
        where = location.parent.name if location.parent_id else "the top level"
        raise ValidationError(
            f"A place inside {location.name} has the same name as one in {where}: rename one of them first."
        ) from None
    location.delete()
    return outcome


@transaction.atomic
def thing_place(*, twin: Twin, location: Location | None) -> Placement | None:
    """Put a thing in one of its owner's places (None: no place). Refused for a thing on its way to another host
    (twins.leaving: its place travels with it)."""
    leaving.refuse_if_leaving(twin)
    if location is None:
        Placement.objects.filter(twin=twin).delete()
        return None
    if location.owner_id != twin.owner_id:
        raise ValidationError({"location": "No such place."})
    placement, _ = Placement.objects.update_or_create(
        twin=twin, defaults={"location": location, "moved_at": timezone.now()}
    )
    return placement


def placement_of(twin: Twin) -> Location | None:
    placement = Placement.objects.filter(twin=twin).select_related("location").first()
    return placement.location if placement else None


def things_in(*, location: Location, tree: Tree | None = None) -> QuerySet[Twin]:
    """The owner's things in `location` or any place inside it (kept things of others never: places are the
    owner's own)."""
    tree = tree or tree_of(location.owner)
    ids = [location.pk, *(below.pk for below in tree.below(location))]
    return (
        Twin.objects.owned_by(location.owner)
        .active()
        .filter(placement__location_id__in=ids)
        .select_related("placement__location")
        .order_by("name", "id")
    )


# --- Seams --------------------------------------------------------------------------------------------------------


def _filter_by_location(qs: QuerySet, raw: str, viewer) -> QuerySet:
    if raw == "none":
        return qs.exclude(Exists(Placement.objects.filter(twin=OuterRef("pk"))))
    places = owner_rows(viewer).place_and_inside(raw)
    if places is None:
        raise ValidationError("No such place among yours: pick one from the list.")
    return qs.filter(placement__location_id__in=places)


def _location_filter_choices(viewer) -> list[tuple[str, str]]:
    choices = owner_rows(viewer).place_choices()
    return [*choices, ("none", "No place")] if choices else []


# Labels (kind 0) then places (kind 1), each by name then id (column 3, then 2).
_OWNER_ROWS = f"""
    SELECT 0, id, name, '', NULL FROM {connection.ops.quote_name(Label._meta.db_table)} WHERE owner_id = %s
    UNION ALL
    SELECT 1, id, name, public_id, parent_id FROM {connection.ops.quote_name(Location._meta.db_table)}
     WHERE owner_id = %s
    ORDER BY 1, 3, 2"""  # noqa: S608 - table names from the models' own Meta; values are parameters


def place_badge(name: str) -> listing.Badge:
    """A card's badge for the place it is in (inventory.labels reads the page's places with its labels)."""
    return listing.Badge(text=f"in {name}", background="#e8eaed", color="#1a1a1a", kind="place")


def _forget_on_transfer(event: events.Transferred) -> None:
    """The seller's places are the seller's: a sold thing leaves them."""
    Placement.objects.filter(twin_id=event.twin_id).delete()


def panel_context(request, twin: Twin) -> dict:
    """The thing page's part: its place's breadcrumb and the places it could move to."""
    location = placement_of(twin)
    tree = tree_of(twin.owner)
    return {
        "inventory_path": tree.path(location) if location else [],
        "inventory_location_choices": [
            (place.public_id, " › ".join(p.name for p in tree.path(place))) for place, _ in tree.ordered()
        ],
        "inventory_location": location,
    }


def connect() -> None:
    """Wire places into twins' seams (called from the AppConfig.ready)."""
    listing.register_filter(
        listing.ListFilter(
            param="location",
            label="Place",
            apply=_filter_by_location,
            choices=_location_filter_choices,
            help_text="A place's id (things in it or in a place inside it), or `none`.",
            order=20,
        )
    )
    events.subscribe(events.Transferred, _forget_on_transfer, in_transaction=True)
