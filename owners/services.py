"""Writes for owners: sign-up, the contact card, the inbox."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from owners.models import Notification, Owner
from owners.tasks import send_notification_email

CONTACT_FIELDS = (
    "contact_name",
    "contact_email",
    "contact_phone",
    "contact_message",
    "show_name",
    "show_email",
    "show_phone",
    "show_message",
)


@transaction.atomic
def owner_signup(*, username: str, email: str, password: str) -> Owner:
    owner = Owner(username=username.strip(), email=email.strip())
    validate_password(password, owner)
    owner.set_password(password)
    owner.full_clean()
    owner.save()
    return owner


@transaction.atomic
def owner_update_contact(*, owner: Owner, **fields) -> Owner:
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    for key, value in fields.items():
        setattr(owner, key, value)
    owner.full_clean()
    owner.save(update_fields=list(fields))
    return owner


@transaction.atomic
def notify(
    *,
    owner: Owner,
    kind: str,
    title: str,
    body: str = "",
    twin=None,
    sender_name: str = "",
    sender_contact: str = "",
    email: bool = False,
) -> Notification:
    item = Notification.objects.create(
        owner=owner,
        twin=twin,
        kind=kind,
        title=title,
        body=body,
        sender_name=sender_name,
        sender_contact=sender_contact,
    )
    if email and owner.email:
        # After commit: a rolled-back message must not be emailed; the task row itself is
        # transactional with the notification (database task backend).
        transaction.on_commit(lambda: send_notification_email.enqueue(item.pk))
    return item


@transaction.atomic
def notify_scan(*, twin) -> Notification:
    """ "Your <thing> was scanned", coalesced: repeated scans within the window bump one unread item."""
    since = timezone.now() - timedelta(seconds=settings.SCAN_NOTIFY_COALESCE_SECONDS)
    # Row lock: two reloads at the same instant must bump one item, not create two.
    existing = (
        Notification.objects.select_for_update()
        .filter(
            twin=twin, owner_id=twin.owner_id, kind=Notification.Kind.SCAN, read_at__isnull=True, updated_at__gte=since
        )
        .order_by("-updated_at")
        .first()
    )
    if existing is not None:
        existing.count += 1
        existing.save(update_fields=["count", "updated_at"])
        return existing
    return Notification.objects.create(
        owner_id=twin.owner_id, twin=twin, kind=Notification.Kind.SCAN, title=f"Your {twin.name} was scanned"
    )


@transaction.atomic
def notification_mark_read(*, owner: Owner, ids: list[int] | None = None) -> int:
    qs = Notification.objects.for_owner(owner).unread()
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
