"""A transfer offer keeps the thing's name at the sale (TransferOffer.thing_name), so the seller's records of it
(the offers list, a handover's page) do not show the name a later owner gives the thing.

Past sales: the name is recovered from the notices the sale itself wrote (twins.transfer._hand_over), the buyer's
"<name> is yours" (which names the twin) or else the seller's "<name> now belongs to <buyer>", written within the
sale's transaction. A sale with neither, or whose seller's notice could be another sale's (a handover's things,
which get one notice for all; several sales to one buyer within the minute), keeps an empty name, which the
records show as an unnamed thing rather than today's name.
"""

from datetime import timedelta

from django.db import migrations, models

# The notices are written in the same transaction as completed_at; a minute covers a slow one.
WINDOW = timedelta(minutes=1)
YOURS = " is yours"
BELONGS = " now belongs to "


def _notice_name(TransferOffer, Notification, offer, buyer_name: str) -> str:
    """The name in the sale's own notice, or "" when no notice says it unambiguously."""
    since, until = offer.completed_at - WINDOW, offer.completed_at + WINDOW
    near = {"kind": "system", "created_at__gte": since, "created_at__lte": until}
    titles = list(
        Notification.objects.filter(owner_id=offer.buyer_id, twin_id=offer.twin_id, title__endswith=YOURS, **near)
        .order_by("created_at")
        .values_list("title", flat=True)[:1]
    )
    if titles:
        return titles[0][: -len(YOURS)]
    # The seller's notice names no twin: it is this sale's only when the seller sold this buyer nothing else then
    # (a handover's things, several single sales within the window) and it is the only such notice.
    others = TransferOffer.objects.filter(
        seller_id=offer.seller_id, buyer_id=offer.buyer_id, completed_at__gte=since, completed_at__lte=until
    ).exclude(pk=offer.pk)
    if others.exists():
        return ""
    suffix = f"{BELONGS}{buyer_name}"
    titles = list(
        Notification.objects.filter(owner_id=offer.seller_id, title__endswith=suffix, **near).values_list(
            "title", flat=True
        )[:2]
    )
    return titles[0][: -len(suffix)] if len(titles) == 1 else ""


def names_at_sale(apps, schema_editor) -> None:
    TransferOffer = apps.get_model("twins", "TransferOffer")
    Notification = apps.get_model("owners", "Notification")
    offers = (
        TransferOffer.objects.filter(status="completed", thing_name="", completed_at__isnull=False, buyer__isnull=False)
        .select_related("buyer")
        .only("id", "twin_id", "seller_id", "buyer_id", "buyer__username", "completed_at")
    )
    for offer in offers.iterator(chunk_size=500):
        name = _notice_name(TransferOffer, Notification, offer, offer.buyer.username)[:120]
        if name:
            TransferOffer.objects.filter(pk=offer.pk).update(thing_name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("twins", "0019_reading_series_covers_value"),
        ("owners", "0007_notification_actions"),
    ]

    operations = [
        migrations.AddField(
            model_name="transferoffer",
            name="thing_name",
            field=models.CharField(blank=True, max_length=120),
        ),
        migrations.RunPython(names_at_sale, migrations.RunPython.noop),
    ]
