"""Labels: a colour and a name an owner gives to group things, and filter the cards by.

A label's text colour is not chosen by the owner: it is black or white, whichever contrasts more with the label's
colour (WCAG 2 relative luminance), so every label passes the contrast check (axe) whatever colour is picked.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.http import Http404

from inventory import locations
from inventory.models import Label, Location, Placement
from twins import events, leaving, listing
from twins.models import Twin

NAME_MAX = 40
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Offered in the label form; any #rrggbb is accepted.
PALETTE = ["#3366cc", "#2e7d32", "#c62828", "#f9a825", "#6a1b9a", "#00838f", "#ef6c00", "#546e7a", "#f5f5f5"]


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of "#rrggbb"."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour(colour: str) -> str:
    """Black or white: whichever has more contrast on `colour` (at least 4.58:1 for any colour)."""
    return "#000000" if contrast(colour, "#000000") >= contrast(colour, "#ffffff") else "#ffffff"


def _clean(name: str, colour: str) -> tuple[str, str]:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the label a name."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"At most {NAME_MAX} characters."})
    colour = (colour or "").strip()
    if not COLOUR.match(colour):
        raise ValidationError({"colour": "A colour as #rrggbb (for example #3366cc)."})
    return name, colour.lower()


def _save(label: Label) -> Label:
    try:
        with transaction.atomic():
            label.save()
    except IntegrityError:
        raise ValidationError({"name": f"You already have a label called {label.name}."}) from None
    return label


def label_create(*, owner, name: str, colour: str = PALETTE[0]) -> Label:
    name, colour = _clean(name, colour)
    return _save(Label(owner=owner, name=name, colour=colour))


def label_update(*, label: Label, name: str | None = None, colour: str | None = None) -> Label:
    label.name, label.colour = _clean(label.name if name is None else name, label.colour if colour is None else colour)
    return _save(label)


def label_delete(*, label: Label) -> None:
    """The things keep existing; they lose this label."""
    label.delete()


def label_get(*, viewer, label_id: int) -> Label:
    if not getattr(viewer, "is_authenticated", False):
        raise Http404("No such label.")
    try:
        return Label.objects.get(pk=label_id, owner=viewer)
    except Label.DoesNotExist:
        raise Http404("No such label.") from None


def labels_of_owner(owner) -> QuerySet[Label]:
    return Label.objects.filter(owner=owner).order_by("name", "id")


def labels_by_id(*, owner, ids: list[int]) -> list[Label]:
    """The owner's labels of these ids; an id that is not one of theirs is refused with words."""
    found = list(Label.objects.filter(owner=owner, pk__in=ids))
    if len(found) != len(set(ids)):
        raise ValidationError({"labels": "No such label among yours: pick from your labels."})
    return found


@transaction.atomic
def thing_set_labels(*, twin: Twin, labels: list[Label]) -> list[Label]:
    """Replace the thing's labels with `labels` (all the owner's). Refused for a thing on its way to another host
    (twins.leaving: its labels travel)."""
    if any(label.owner_id != twin.owner_id for label in labels):
        raise ValidationError({"labels": "No such label among yours: pick from your labels."})
    leaving.refuse_if_leaving(twin)
    through = Label.twins.through
    through.objects.filter(twin_id=twin.pk).exclude(label_id__in=[label.pk for label in labels]).delete()
    have = set(through.objects.filter(twin_id=twin.pk).values_list("label_id", flat=True))
    through.objects.bulk_create(
        [through(twin_id=twin.pk, label_id=label.pk) for label in labels if label.pk not in have],
        ignore_conflicts=True,
    )
    return sorted(labels, key=lambda label: (label.name.lower(), label.pk))


def labels_of(twin: Twin) -> list[Label]:
    return list(Label.objects.filter(twins=twin, owner_id=twin.owner_id).order_by("name", "id"))


# --- Seams --------------------------------------------------------------------------------------------------------


def _filter_by_label(qs: QuerySet, raw: str, viewer) -> QuerySet:
    # Checked against the viewer's labels as the filter form lists them (locations.owner_rows: once a request).
    if not raw.isdigit() or int(raw) not in {pk for pk, _ in locations.owner_rows(viewer).labels}:
        raise ValidationError("No such label among yours: pick one from the list.")
    return qs.filter(inventory_labels__id=int(raw))


def _label_filter_choices(viewer) -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in locations.owner_rows(viewer).labels]


def _card_badges(viewer, twins: list[Twin]) -> dict[int, list[listing.Badge]]:
    """One page of cards' labels (by name) and places, in one statement: two badge sources were two round trips
    and two ORM compilations on every cards page (issue 16). Written out by hand: it is the page's hottest path,
    and Django compiling the UNION of two joins cost more than running it."""
    ids = [twin.pk for twin in twins]
    owner_id = getattr(viewer, "pk", None)
    if not ids or owner_id is None:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    # Labels first on a card, then its place (each card has one place at most); labels of the viewer's own only,
    # a place only on the viewer's own things (a kept thing's place is its owner's).
    sql = f"""
        SELECT lt.twin_id, 0, l.name, l.colour, l.id
          FROM {_LABEL_TWINS} lt JOIN {_LABEL} l ON l.id = lt.label_id
         WHERE l.owner_id = %s AND lt.twin_id IN ({marks})
        UNION ALL
        SELECT p.twin_id, 1, loc.name, '', 0
          FROM {_PLACEMENT} p JOIN {_TWIN} t ON t.id = p.twin_id JOIN {_LOCATION} loc ON loc.id = p.location_id
         WHERE t.owner_id = %s AND p.twin_id IN ({marks})
        ORDER BY 2, 3, 5"""  # noqa: S608 - table names from the models' own Meta; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [owner_id, *ids, owner_id, *ids])
        rows = cursor.fetchall()
    found: dict[int, list[listing.Badge]] = {}
    for twin_id, kind, name, colour, _ in rows:
        if kind == 0:
            badge = listing.Badge(text=name, background=colour, color=text_colour(colour), kind="label")
        else:
            badge = locations.place_badge(name)
        found.setdefault(twin_id, []).append(badge)
    return found


_LABEL_TWINS = connection.ops.quote_name(Label.twins.through._meta.db_table)
_LABEL = connection.ops.quote_name(Label._meta.db_table)
_PLACEMENT = connection.ops.quote_name(Placement._meta.db_table)
_LOCATION = connection.ops.quote_name(Location._meta.db_table)
_TWIN = connection.ops.quote_name(Twin._meta.db_table)


def _forget_on_transfer(event: events.Transferred) -> None:
    """The seller's labels are the seller's: a sold thing leaves them."""
    Label.twins.through.objects.filter(twin_id=event.twin_id).delete()


def panel_context(request, twin: Twin) -> dict:
    chosen = {label.pk for label in labels_of(twin)}
    return {
        "inventory_labels": [
            {"label": label, "chosen": label.pk in chosen, "text": text_colour(label.colour)}
            for label in labels_of_owner(twin.owner)
        ],
    }


def connect() -> None:
    """Wire labels into twins' seams (called from the AppConfig.ready)."""
    listing.register_filter(
        listing.ListFilter(
            param="label",
            label="Label",
            apply=_filter_by_label,
            choices=_label_filter_choices,
            help_text="A label's id: only things with that label.",
            order=10,
        )
    )
    # Labels and places (inventory.locations) as one source: one query a page for both.
    listing.register_card_badges("inventory", _card_badges)
    events.subscribe(events.Transferred, _forget_on_transfer, in_transaction=True)
