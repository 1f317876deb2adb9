"""Labels: a colour and a name an owner gives to group things, and filter the cards by.

A label's text colour is not chosen by the owner: it is black or white, whichever contrasts more with the label's
colour (WCAG 2 relative luminance), so every label passes the contrast check (axe) whatever colour is picked.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import Http404

from inventory.models import Label
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
    if not raw.isdigit() or not Label.objects.filter(pk=int(raw), owner_id=getattr(viewer, "pk", None)).exists():
        raise ValidationError("No such label among yours: pick one from the list.")
    return qs.filter(inventory_labels__id=int(raw))


def _label_filter_choices(viewer) -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in labels_of_owner(viewer).values_list("pk", "name")]


def _card_labels(viewer, twins: list[Twin]) -> dict[int, list[listing.Badge]]:
    rows = (
        Label.twins.through.objects.filter(twin_id__in=[twin.pk for twin in twins], label__owner=viewer)
        .order_by("label__name", "label_id")
        .values_list("twin_id", "label__name", "label__colour")
    )
    found: dict[int, list[listing.Badge]] = {}
    for twin_id, name, colour in rows:
        badge = listing.Badge(text=name, background=colour, color=text_colour(colour), kind="label")
        found.setdefault(twin_id, []).append(badge)
    return found


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
    listing.register_card_badges("inventory.labels", _card_labels)
    events.subscribe(events.Transferred, _forget_on_transfer, in_transaction=True)
