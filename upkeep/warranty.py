"""Purchase and warranty: when, where and for how much a thing was bought, and a reminder before its warranty
ends. The owner's alone: a keeper never sees the price (the private page's panel and every route ask for
ownership)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from owners.models import Notification
from owners.services import notify
from twins import events, leaving
from upkeep.currencies import CURRENCIES
from upkeep.models import Purchase

# The reminder goes out this long before the warranty's last day.
WARRANTY_LEAD = timedelta(days=30)
MAX_PRICE = Decimal("9999999999.99")
FIELDS = ("purchased_on", "price", "currency", "bought_from", "warranty_ends")


def purchase_of(twin: Any) -> Purchase | None:
    return Purchase.objects.filter(twin_id=twin.pk).first()


def _price(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool | float):
        # A float has already lost cents (0.1 + 0.2); the API takes prices as decimal strings.
        raise ValidationError({"price": 'Give the price as a decimal number in text, like "249.90".'})
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError({"price": "The price is a number, like 249.90."}) from None
    if not price.is_finite() or price < 0:
        raise ValidationError({"price": "The price is a number of zero or more, like 249.90."})
    if price > MAX_PRICE:
        raise ValidationError({"price": f"The price can be at most {MAX_PRICE}."})
    if price != price.quantize(Decimal("0.01")):
        raise ValidationError({"price": "The price has at most two decimals, like 249.90."})
    return price.quantize(Decimal("0.01"))


@transaction.atomic
def purchase_set(
    *,
    twin: Any,
    purchased_on: date | None = None,
    price: Any = None,
    currency: str = "",
    bought_from: str = "",
    warranty_ends: date | None = None,
) -> Purchase:
    """Record (or replace) what the owner knows of the thing's purchase. Every field may be left empty; a price
    needs its currency. A new warranty end is reminded of again. Refused for a thing on its way to another host
    (twins.leaving: its purchase travels)."""
    leaving.refuse_if_leaving(twin)
    errors: dict[str, str] = {}
    currency = (currency or "").strip().upper()
    try:
        amount = _price(price)
    except ValidationError as exc:
        errors.update({key: value[0] for key, value in exc.message_dict.items()})
        amount = None
    if currency and currency not in CURRENCIES:
        errors["currency"] = "Give the currency as its three-letter ISO 4217 code, like EUR, USD or GBP."
    if amount is not None and not currency:
        errors["currency"] = "A price needs its currency, like EUR."
    today = timezone.localdate()
    if purchased_on is not None and purchased_on > today + timedelta(days=1):
        errors["purchased_on"] = "The purchase date is in the future."
    if purchased_on is not None and warranty_ends is not None and warranty_ends < purchased_on:
        errors["warranty_ends"] = "The warranty cannot end before the purchase date."
    if errors:
        raise ValidationError(errors)
    purchase = Purchase.objects.select_for_update().filter(twin_id=twin.pk).first() or Purchase(twin_id=twin.pk)
    purchase.purchased_on = purchased_on
    purchase.price = amount
    purchase.currency = currency
    purchase.bought_from = (bought_from or "").strip()
    purchase.warranty_ends = warranty_ends
    purchase.full_clean(exclude=["twin"])
    purchase.save()
    return purchase


@transaction.atomic
def purchase_clear(*, twin: Any) -> None:
    leaving.refuse_if_leaving(twin)
    Purchase.objects.filter(twin_id=twin.pk).delete()


def warranty_reminders_send(*, today: date | None = None) -> int:
    """One inbox item (and email) per warranty ending within WARRANTY_LEAD: each end date once, however often
    this runs and from however many workers (a conditional UPDATE claims it, in the item's transaction). Things
    archived, deactivated, moved away or still arriving get none. Returns how many went out."""
    today = today or timezone.localdate()
    candidates = (
        Purchase.objects.filter(
            warranty_ends__gte=today,
            warranty_ends__lte=today + WARRANTY_LEAD,
            twin__archived_at__isnull=True,
            twin__deactivated_at__isnull=True,
            # Only things that live here: a moved one's owner is reminded by its new host (issue 18).
            twin__moved_to="",
            twin__arriving=False,
        )
        .exclude(warranty_reminded_for=F("warranty_ends"))
        .values_list("pk", "warranty_ends")
        .order_by("warranty_ends", "pk")
    )
    sent = 0
    for twin_id, ends in list(candidates[:5000]):
        sent += _remind_warranty(twin_id, ends, today)
    return sent


@transaction.atomic
def _remind_warranty(twin_id: int, ends: date, today: date) -> int:
    claimed = (
        Purchase.objects.filter(pk=twin_id, warranty_ends=ends)
        .exclude(warranty_reminded_for=ends)
        .update(warranty_reminded_for=ends)
    )
    if not claimed:
        return 0  # another worker sent it, or the owner changed the date meanwhile
    purchase = Purchase.objects.select_related("twin__owner").get(pk=twin_id)
    twin = purchase.twin
    days = (ends - today).days
    when = "today" if days == 0 else ("tomorrow" if days == 1 else f"in {days} days")
    notify(
        owner=twin.owner,
        kind=Notification.Kind.SYSTEM,
        title=f"The warranty of your {twin.name} ends {when}",
        body=f"Its warranty ends on {ends.isoformat()}. If something is wrong with it, claim before then.",
        twin=twin,
        email=True,
        action_url=reverse("thing", args=[twin.slug]) + "#upkeep-purchase",
        action_label="See the purchase",
    )
    return 1


def on_transferred(event: events.Transferred) -> None:
    """What the seller paid and where stays the seller's: the buyer gets the dates (the warranty may pass with
    the thing), not the price or the shop. In the sale's transaction."""
    Purchase.objects.filter(twin_id=event.twin_id).update(
        price=None, currency="", bought_from="", warranty_reminded_for=None
    )


def connect() -> None:
    events.subscribe(events.Transferred, on_transferred, in_transaction=True)
