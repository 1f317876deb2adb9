"""Writes to tags and scans. Each is one atomic service and the one place for side effects."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.live import broadcast_after_commit
from owners.models import Notification
from owners.services import notify, notify_scan
from tags.codes import new_short_code, new_token
from tags.history import schedule_scan_history, tag_history
from tags.models import Scan, Tag
from tags.public_cache import forget_tags
from twins.models import Twin

MAX_BATCH = 10_000
# New codes are 40 random bits: a collision is rare but possible once there are millions of tags.
_CODE_ATTEMPTS = 5


class TagUnavailable(ValidationError):
    """The tag was claimed or retired by someone else first."""


def _insert_with_fresh_code(tag: Tag) -> Tag:
    for attempt in range(_CODE_ATTEMPTS):
        try:
            # A savepoint per attempt: a unique violation must not poison the caller's transaction.
            with transaction.atomic():
                tag.save(force_insert=True)
            return tag
        except IntegrityError:
            if attempt == _CODE_ATTEMPTS - 1:
                raise
            tag.pk = None
            tag.code = new_short_code()
            tag.token = new_token()
    raise AssertionError("unreachable")


def _check_twin(twin: Twin) -> None:
    if twin.archived_at is not None:
        raise ValidationError("This thing is archived; restore it before attaching tags.")


@transaction.atomic
def tag_create(*, twin: Twin, label: str = "") -> Tag:
    """A new active tag for the thing, with a fresh token and short code."""
    _check_twin(twin)
    tag = Tag(twin=twin, status=Tag.Status.ACTIVE, label=label.strip())
    tag.full_clean(exclude=["twin", "token", "code"])
    tag = _insert_with_fresh_code(tag)
    tag_history(tag=tag, twin=twin, action="attach")
    return tag


@transaction.atomic
def tag_batch_create(*, count: int, batch: str) -> list[Tag]:
    """Pre-printed tags: unassigned until someone scans one and claims it for a thing."""
    if not 1 <= count <= MAX_BATCH:
        raise ValidationError(f"A batch has 1 to {MAX_BATCH} tags.")
    batch = batch.strip()
    if not batch or len(batch) > 40:
        raise ValidationError("A batch name is 1 to 40 characters.")
    return [_insert_with_fresh_code(Tag(status=Tag.Status.UNASSIGNED, batch=batch)) for _ in range(count)]


@transaction.atomic
def tag_retire(*, tag: Tag) -> Tag:
    """Retire an active tag for good: its URL then says so and shows nothing of the thing. Idempotent."""
    now = timezone.now()
    if Tag.objects.filter(pk=tag.pk, status=Tag.Status.ACTIVE).update(status=Tag.Status.RETIRED, retired_at=now):
        tag.status, tag.retired_at = Tag.Status.RETIRED, now
        forget_tags([tag.token])
        if tag.twin_id is not None:
            tag_history(tag=tag, twin=tag.twin, action="retire")
    elif tag.status != Tag.Status.RETIRED:
        tag.refresh_from_db(fields=["status", "retired_at"])
    return tag


@transaction.atomic
def tag_claim(*, tag: Tag, twin: Twin, owner) -> Tag:
    """Attach a pre-printed tag to one of the owner's things.

    A conditional UPDATE (WHERE status = 'unassigned'), not read-then-write: of two people claiming the
    same tag at once, exactly one matches the row; the other gets TagUnavailable.
    """
    if twin.owner_id != owner.pk:
        raise ValidationError("You can only attach a tag to your own things.")
    _check_twin(twin)
    claimed = Tag.objects.filter(pk=tag.pk, status=Tag.Status.UNASSIGNED, twin__isnull=True).update(
        status=Tag.Status.ACTIVE, twin=twin
    )
    if not claimed:
        raise TagUnavailable("This tag has already been attached to a thing.")
    tag.status, tag.twin = Tag.Status.ACTIVE, twin
    forget_tags([tag.token])
    tag_history(tag=tag, twin=twin, action="claim")
    return tag


def scan_record(*, tag: Tag, by_owner: bool, user_agent: str = "") -> Scan:
    """Record one opening of a tag URL now and, for someone other than the owner, tell the owner."""
    twin = tag.twin if tag.status == Tag.Status.ACTIVE else None
    return record_scan(tag_id=tag.pk, twin=twin, by_owner=by_owner, user_agent=user_agent)


def record_scan(*, tag_id: int, twin: Twin | None, by_owner: bool, user_agent: str = "") -> Scan:
    """One transaction: the scan log and the owner's "scanned" count never disagree.

    `twin` needs only pk, owner_id and name (the scan fast path passes a lightweight instance).
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            # Asynchronous commit, for this transaction only and only when it is ours alone (PostgreSQL
            # docs, "Asynchronous Commit"): COMMIT returns without waiting for the WAL flush. Every
            # stranger's scan of a thing bumps the same notification row, whose lock is held until COMMIT
            # returns, so with a synchronous commit those scans queue behind one disk flush each. The
            # database stays consistent either way; a crash of the database server can lose the last
            # fraction of a second of scans, which is acceptable for a scan log and a "scanned" count.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        scan = Scan.objects.create(
            tag_id=tag_id, twin_id=twin.pk if twin else None, by_owner=by_owner, user_agent=user_agent[:60]
        )
        if twin is not None and not by_owner:
            # Last in the transaction: the hot notification row stays locked for as short as possible.
            notify_scan(twin=twin)
        if twin is not None:
            twin_id = twin.pk
            transaction.on_commit(lambda: schedule_scan_history(twin_id))
            broadcast_after_commit(
                owner_id=twin.owner_id, twin_id=twin_id, event={"kind": "scan", "count": 1, "by_owner": by_owner}
            )
    return scan


@transaction.atomic
def message_send(*, tag: Tag, message: str, name: str = "", contact: str = "") -> Notification:
    """A finder's message to the owner of the tagged thing: the inbox now, an email after commit."""
    twin = tag.twin
    if tag.status != Tag.Status.ACTIVE or twin is None:
        raise ValidationError("This tag is not attached to a thing.")
    return notify(
        owner=twin.owner,
        kind=Notification.Kind.MESSAGE,
        title=f"Message about {twin.name}",
        body=message,
        sender_name=name,
        sender_contact=contact,
        twin=twin,
        email=True,
    )


def demo_sticker(twin: Twin) -> Tag:
    """The demo data's tag for a demo thing (twins.demo, registered in tags.apps)."""
    return Tag.objects.create(twin=twin, label="Sticker")
