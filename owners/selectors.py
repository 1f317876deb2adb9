from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from owners.models import Notification, Owner


def inbox(*, owner: Owner) -> QuerySet[Notification]:
    return Notification.objects.for_owner(owner).select_related("twin")


def unread_count(*, owner: Owner) -> int:
    return Notification.objects.for_owner(owner).unread().count()


def notification_get(*, owner: Owner, notification_id: int) -> Notification:
    try:
        return inbox(owner=owner).get(pk=notification_id)
    except Notification.DoesNotExist:
        raise Http404("No such message.") from None
