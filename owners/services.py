"""Writes for owners: sign-up, the API token, the contact card, the inbox. Keys: owners.keys."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.live import broadcast_after_commit
from core.redis import REDIS_ERRORS
from owners.models import Notification, Owner
from owners.tasks import send_notification_email


@transaction.atomic
def owner_signup(*, username: str, email: str, password: str, time_zone: str = "") -> Owner:
    owner = Owner(username=username.strip(), email=email.strip(), time_zone=(time_zone or "").strip())
    validate_password(password, owner)
    owner.set_password(password)
    owner.full_clean()
    # Its keys are made by the save, as for every new account (owners.keys.keys_for_new_owner).
    owner.save()
    return owner


def owner_set_time_zone(*, owner: Owner, time_zone: str) -> Owner:
    """Set (or clear: "") the owner's own time zone; an unknown name is a ValidationError naming the field."""
    owner.time_zone = (time_zone or "").strip()
    owner.full_clean(exclude=[field.name for field in Owner._meta.fields if field.name != "time_zone"])
    owner.save(update_fields=["time_zone"])
    return owner


@transaction.atomic
def owner_api_token_create(*, owner: Owner) -> Token:
    """A new API token for the owner, replacing any old one: the old one stops working at once."""
    Token.objects.filter(user=owner).delete()
    return Token.objects.create(user=owner)


@transaction.atomic
def owner_update_contact(*, owner: Owner, **fields) -> Owner:
    unknown = set(fields) - set(Owner.CONTACT_FIELDS)
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
    action_url: str = "",
    action_label: str = "",
) -> Notification:
    """An inbox item for `owner` (emailed too when `email`), pushed to their open pages once it commits.
    `action_url` (a path on this site) and `action_label` give the item its one button."""
    item = Notification.objects.create(
        owner=owner,
        twin=twin,
        kind=kind,
        title=title,
        body=body,
        sender_name=sender_name,
        sender_contact=sender_contact,
        action_url=action_url,
        action_label=action_label,
    )
    if email and owner.email:
        # After commit: a rolled-back message must not be emailed; the task row itself is
        # transactional with the notification (database task backend).
        transaction.on_commit(lambda: send_notification_email.enqueue(item.pk))
    broadcast_after_commit(
        owner_id=owner.pk,
        twin_id=twin.pk if twin is not None else None,
        event={"kind": "message", "item": kind, "thing": twin.slug if twin is not None else None, "title": title},
    )
    return item


# How long the id of a just-bumped scan notification is remembered for the fast path.
SCAN_NOTIFY_FAST_SECONDS = 5


# No savepoint: it is one step of the caller's scan transaction, and on the hot path savepoints cost round trips.
@transaction.atomic(savepoint=False)
def notify_scan(*, twin, count: int = 1) -> int:
    """ "Your <thing> was scanned", coalesced: repeated scans within the window bump one unread item.

    `count` scans are added at once (a batch flushed from the scan buffer). Returns the notification's id.

    Fast path for a page reloaded many times a second: the id of the notification just bumped is cached for
    a few seconds and the next scan does one conditional UPDATE ... SET count = count + 1. The count stays
    exact (every scan adds one in the database); the UPDATE re-checks what the slow path would (same owner
    and twin, still unread), and a stale id only costs a fallback. The id is cached at once rather than after
    commit for that reason; its lifetime is far below SCAN_NOTIFY_COALESCE_SECONDS.

    Slow path: the twin row is locked first (FOR NO KEY UPDATE, which doesn't conflict with the key-share lock
    a Scan row's foreign key takes), because a FOR UPDATE on the notification locks nothing when none exists
    yet, and two first scans at the same instant would otherwise both create one.

    Lock order: on PostgreSQL the caller holds a lock on the twin's row (FOR KEY SHARE at least) before calling,
    as tags.scans does: both paths lock the notification row, and a transaction holding it must not then wait
    for the twin (its deferred foreign-key checks at COMMIT would queue behind a waiting FOR UPDATE, a deadlock
    with a slow path waiting for the notification; see tags.scans._KEY_SHARE_TWIN).
    """
    window = min(SCAN_NOTIFY_FAST_SECONDS, settings.SCAN_NOTIFY_COALESCE_SECONDS)
    key = f"owners:scan-notify:{twin.pk}"
    cached = _cache_get(key) if window > 0 else None
    if cached is not None and cached[1] == twin.owner_id:
        bumped = Notification.objects.filter(
            pk=cached[0], owner_id=twin.owner_id, twin_id=twin.pk, kind=Notification.Kind.SCAN, read_at__isnull=True
        ).update(count=F("count") + count, updated_at=timezone.now())
        if bumped:
            return cached[0]
    type(twin).objects.select_for_update(no_key=True).filter(pk=twin.pk).order_by().values_list("pk").first()
    since = timezone.now() - timedelta(seconds=settings.SCAN_NOTIFY_COALESCE_SECONDS)
    existing = (
        Notification.objects.select_for_update()
        .filter(
            twin_id=twin.pk,
            owner_id=twin.owner_id,
            kind=Notification.Kind.SCAN,
            read_at__isnull=True,
            updated_at__gte=since,
        )
        .order_by("-updated_at")
        .first()
    )
    if existing is not None:
        existing.count += count
        existing.save(update_fields=["count", "updated_at"])
        item = existing
    else:
        item = Notification.objects.create(
            owner_id=twin.owner_id,
            twin_id=twin.pk,
            kind=Notification.Kind.SCAN,
            title=f"Your {twin.name} was scanned",
            count=count,
        )
    if window > 0:
        try:
            cache.set(key, (item.pk, twin.owner_id), timeout=window)
        except REDIS_ERRORS:
            pass  # only the next scan's shortcut is lost
    return item.pk


def _cache_get(key: str):
    """The fast path's hint, or None while the cache (Redis) is unreachable: the slow path is always right."""
    try:
        return cache.get(key)
    except REDIS_ERRORS:
        return None


@transaction.atomic
def notification_mark_read(*, owner: Owner, ids: list[int] | None = None) -> int:
    qs = Notification.objects.for_owner(owner).unread()
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
