from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from owners.models import Notification, Owner


def inbox(*, owner: Owner) -> QuerySet[Notification]:
    """The owner's items, without those about things they no longer own (after a transfer: 404)."""
    return (
        Notification.objects.for_owner(owner).filter(Q(twin__isnull=True) | Q(twin__owner=owner)).select_related("twin")
    )


def unread_count(*, owner: Owner) -> int:
    return inbox(owner=owner).filter(read_at__isnull=True).count()


def notification_get(*, owner: Owner, notification_id: int) -> Notification:
    try:
        return inbox(owner=owner).get(pk=notification_id)
    except Notification.DoesNotExist:
        raise Http404("No such message.") from None
