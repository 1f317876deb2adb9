from __future__ import annotations

from django.db.models import Case, Q, QuerySet, Value, When
from django.http import Http404
from rest_framework.authtoken.models import Token

from owners.models import Notification, Owner, OwnerKey


def inbox(*, owner: Owner) -> QuerySet[Notification]:
    """The owner's items, without those about things they no longer own (after a transfer: 404).

    Unread finders' messages come first: a coalesced scan notice moves to the top at every scan and would bury
    the one item a person wrote and waits for an answer to. The rest follows newest first.
    """
    unanswered = Case(When(kind=Notification.Kind.MESSAGE, read_at__isnull=True, then=Value(0)), default=Value(1))
    return (
        Notification.objects.for_owner(owner)
        .filter(Q(twin__isnull=True) | Q(twin__owner=owner))
        .select_related("twin")
        .order_by(unanswered, "-updated_at", "-id")
    )


def unread_count(*, owner: Owner) -> int:
    return inbox(owner=owner).filter(read_at__isnull=True).count()


def notification_get(*, owner: Owner, notification_id: int) -> Notification:
    try:
        return inbox(owner=owner).get(pk=notification_id)
    except Notification.DoesNotExist:
        raise Http404("No such message.") from None


def owner_keys_active(*, owner: Owner) -> dict[str, OwnerKey]:
    """The owner's active keys by role (`current`, `next`). Every account gets both when it is created
    (owners.keys.keys_for_new_owner), so a page that shows them never has to create them."""
    return {key.role: key for key in OwnerKey.objects.filter(owner=owner, retired_at__isnull=True)}


def owner_api_token(*, owner: Owner) -> Token | None:
    return Token.objects.filter(user=owner).first()
