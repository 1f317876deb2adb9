"""Writes to tags and scans. Each is one service and the one place for side effects.

The scan log's own writes are in tags.scans (the scan buffer's flush writes scans too); what opening a tag URL
does, from the rate limit to the page it shows, is `scan_open`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.ratelimit import Limit, counter, hit, hit_during_outage, retry_after_for
from core.redis import REDIS_ERRORS, redis_client
from owners.models import Notification, Owner
from owners.services import notify
from tags import public_cache, scan_buffer, selectors
from tags.codes import new_short_code, new_token
from tags.history import tag_history
from tags.models import NfcSetting, Scan, Tag
from tags.nfc import LINK, NfcMarker, sun_tap_check
from tags.public_cache import forget_tags
from tags.scans import record_scan
from tags.useragent import coarse_user_agent
from twins import access, leaving
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
def tag_claim(*, tag: Tag, twin: Twin, owner: Owner) -> Tag:
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


def scan_record(*, tag: Tag, by_owner: bool, user_agent: str = "", source: str = Scan.Source.LINK) -> Scan:
    """Record one opening of a tag URL now and, for someone other than the owner, tell the owner."""
    twin = tag.twin if tag.status == Tag.Status.ACTIVE else None
    return record_scan(tag_id=tag.pk, twin=twin, by_owner=by_owner, user_agent=user_agent, source=source)


class ScanPage(StrEnum):
    """Which page a scan opens."""

    NOT_FOUND = "not_found"  # an unknown tag, or one of an archived or still arriving thing: they look the same
    RETIRED = "retired"  # 410, and nothing about the thing
    UNASSIGNED = "unassigned"  # a pre-printed tag to claim
    OWNER = "owner"  # the owner's one-box reading form
    KEEPER = "keeper"  # the same form for someone the owner lets add readings (a keeper's check-in)
    MOVED = "moved"  # the thing lives on another instance now: 308 there (ScanOpened.moved_to)
    PUBLIC = "public"  # the finder's page


@dataclass(frozen=True)
class ScanOpened:
    """What a scan shows. For PUBLIC, `html` is the kept anonymous page, served as it is (the same for every
    finder); without it the page is rendered for the visitor."""

    show: ScanPage
    tag: Tag | None = None
    html: str | bytes | None = None
    # A verified NTAG 424 DNA SUN tap with a fresh counter (tags.nfc): the page shows the "genuine tag" mark.
    genuine: bool = False
    # For MOVED: the base URL of the instance the thing moved to.
    moved_to: str = ""


class TooMany(Exception):
    """A rate limit said no: `message` for the person, `retry_after` in seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


SCAN_LIMIT_MESSAGE = "Too many tag lookups from your connection."


def scan_open(
    *, token: str, viewer: Owner | AnonymousUser, client: str, user_agent: str, nfc: NfcMarker = LINK
) -> ScanOpened:
    """Someone opened a tag URL: count it against the client's budget, record the scan, say what to show.

    `client` is the rate-limit key of the requester (core.ratelimit.client_id); `user_agent` the raw header, of
    which only a coarse reading is kept. Every scan is recorded (a product requirement), the owner's included; a
    stranger's scan of an active tag tells the owner. Raises TooMany past the client's budget.

    Not atomic as a whole, on purpose: the fast path (an anonymous finder, the page cached) must touch no
    database at all, and a scan written now is a transaction of its own (tags.scans.record_scan) so that it can
    commit asynchronously.

    `nfc` is what the URL's query string said (tags.nfc.read_marker): a tap is recorded as one; SUN parameters
    take the slow path, where they are checked against the tag's keys and counter (a genuine tap is shown as such;
    anything else is an ordinary view, logged).
    """
    anonymous = not viewer.is_authenticated
    user_agent = coarse_user_agent(user_agent)
    sun_params = nfc.sun is not None or bool(nfc.problem)
    if anonymous and not sun_params and selectors.is_token(token):
        html = _scan_cached(token=token, client=client, user_agent=user_agent, source=nfc.source)
        if html is not None:
            # Fast path, the finder's usual case: no database, one Redis round trip, the scan buffered.
            return ScanOpened(ScanPage.PUBLIC, html=html)
    else:
        _count_scan(client)
    tag = selectors.tag_resolve(token=token)
    if base_url := selectors.moved_to(tag):
        # Recorded where the thing lives now, after the redirect; the SUN counter is checked there too.
        return ScanOpened(ScanPage.MOVED, tag=tag, moved_to=base_url)
    if tag is None or (tag.twin is not None and not selectors.is_live(tag.twin)):
        return ScanOpened(ScanPage.NOT_FOUND)
    twin = tag.twin
    by_owner = twin is not None and not anonymous and viewer.pk == twin.owner_id
    genuine = sun_params and tag.status == Tag.Status.ACTIVE and sun_tap_check(tag=tag, marker=nfc).genuine
    source = Scan.Source.GENUINE if genuine else nfc.source
    if twin is not None and twin.leaving_to:
        pass  # on its way to another host: its package is built, a scan recorded here would stay behind
    elif tag.status == Tag.Status.ACTIVE and not by_owner:
        _record_stranger_scan(
            tag_id=tag.pk,
            twin_id=twin.pk,
            owner_id=twin.owner_id,
            name=twin.name,
            user_agent=user_agent,
            source=source,
        )
    else:
        scan_record(tag=tag, by_owner=by_owner, user_agent=user_agent, source=source)
    if tag.status == Tag.Status.RETIRED:
        return ScanOpened(ScanPage.RETIRED)
    if tag.status == Tag.Status.UNASSIGNED:
        return ScanOpened(ScanPage.UNASSIGNED, tag=tag)
    if by_owner:
        return ScanOpened(ScanPage.OWNER, tag=tag, genuine=genuine)
    if not anonymous and _may_add_readings(viewer, twin):
        return ScanOpened(ScanPage.KEEPER, tag=tag, genuine=genuine)
    if genuine:
        return ScanOpened(ScanPage.PUBLIC, tag=tag, genuine=True)  # rendered for this tap, with its mark
    if anonymous:
        # Kept for the next finders: until what it shows changes (public_cache drops it then) or it expires.
        try:
            html = public_cache.store_page(tag, selectors.tag_public_page(tag=tag))
        except REDIS_ERRORS:
            return ScanOpened(ScanPage.PUBLIC, tag=tag)  # rendered per request until Redis is back
        return ScanOpened(ScanPage.PUBLIC, tag=tag, html=html)
    return ScanOpened(ScanPage.PUBLIC, tag=tag)


def _may_add_readings(viewer: Owner, twin: Twin) -> bool:
    # Asked of signed-in strangers only (a query per credential provider): the finder's fast path never gets here.
    granted = access.access_for(viewer, twin)
    return granted is not None and granted.can(access.READINGS_WRITE)


_limit = lru_cache(maxsize=16)(Limit.parse)  # the setting's text, parsed once per process (the scan hot path)


def _count_scan(client: str) -> None:
    """Spend one scan of the client's budget; raises TooMany past it."""
    retry_after = hit("scan", client, settings.RATE_SCAN_PER_CLIENT)
    if retry_after is not None:
        raise TooMany(SCAN_LIMIT_MESSAGE, retry_after=retry_after)


def _scan_cached(*, token: str, client: str, user_agent: str, source: str) -> str | bytes | None:
    """An anonymous finder's scan: spend one of the client's budget (raises TooMany past it) and, when the page is
    kept, record the scan and return the page; None (the scan counted, not recorded) when it is not kept.

    With Redis all of it is one Lua script (tags.scan_buffer.scan_hit). While Redis is unreachable the counter is
    this process's (core.ratelimit LOCAL: a scan is a read that must keep working, and the limit still holds per
    process) and no page is kept: the slow path renders it and writes the scan at once.
    """
    limit = _limit(settings.RATE_SCAN_PER_CLIENT)
    if redis_client() is None:
        _count_scan(client)
        page = public_cache.cached_page(token)
        if page is None:
            return None
        _record_stranger_scan(
            tag_id=page["tag"],
            twin_id=page["twin"],
            owner_id=page["owner"],
            name=page["name"],
            user_agent=user_agent,
            source=source,
        )
        return page["html"]
    key, window, now = counter("scan", client, limit)
    try:
        count, html = scan_buffer.scan_hit(
            counter=key,
            seconds=limit.seconds + 1,
            budget=limit.count,
            page_key=public_cache.page_key(token),
            user_agent=user_agent,
            source=source,
        )
    except REDIS_ERRORS as exc:
        retry_after = hit_during_outage("scan", client, limit, exc)
        html = None
    else:
        if count == 0:  # the page is not kept, and the script counted nothing: the slow path's scan is counted here
            _count_scan(client)
            return None
        retry_after = retry_after_for(count, limit, window, now)
    if retry_after is not None:
        raise TooMany(SCAN_LIMIT_MESSAGE, retry_after=retry_after)
    return html


def finder_scan_kept(*, token: str, client: str, user_agent: str) -> str | bytes | None:
    """The finder's shortcut (tags.middleware): an anonymous plain scan (no NFC parameters) of a tag whose page is
    kept in Redis, counted against the client's budget and buffered in one round trip, as :func:`scan_open` does it;
    the page's HTML. None when the full path must answer instead: no Redis configured, not a token, the page not
    kept (nothing counted: the full path counts it), the client over its budget (this scan counted, and counted
    again by the full path that answers the 429: a refused client's counter runs twice as fast, the refusal and
    its Retry-After are the same), or Redis unreachable (the full path counts it per process; a scan that reached
    Redis before the error may then be recorded twice, as in :func:`_record_stranger_scan`)."""
    if redis_client() is None or not selectors.is_token(token):
        return None
    limit = _limit(settings.RATE_SCAN_PER_CLIENT)
    key, _, _ = counter("scan", client, limit)
    try:
        _, html = scan_buffer.scan_hit(
            counter=key,
            seconds=limit.seconds + 1,
            budget=limit.count,
            page_key=public_cache.page_key(token),
            user_agent=coarse_user_agent(user_agent),
        )
    except REDIS_ERRORS:
        return None
    return html


def _record_stranger_scan(
    *, tag_id: int, twin_id: int, owner_id: int, name: str, user_agent: str, source: str = Scan.Source.LINK
) -> None:
    """Buffer the scan in Redis; while Redis is unreachable, write it now, as without Redis (every scan is
    recorded: a product requirement). A scan that reached Redis before the error may then be counted twice; one
    lost would be worse."""
    try:
        scan_buffer.record_stranger_scan(
            tag_id=tag_id, twin_id=twin_id, owner_id=owner_id, name=name, user_agent=user_agent, source=source
        )
    except REDIS_ERRORS:
        twin = Twin(pk=twin_id, owner_id=owner_id, name=name)
        record_scan(tag_id=tag_id, twin=twin, by_owner=False, user_agent=user_agent, source=source)


def code_lookup(*, typed: str, client: str) -> Tag | None:
    """The tag whose short code someone typed (when a camera fails), or None. Spends the client's scan budget
    (raises TooMany past it), which also bounds guessing of the 40-bit codes."""
    retry_after = hit("scan", client, settings.RATE_SCAN_PER_CLIENT)
    if retry_after is not None:
        raise TooMany(SCAN_LIMIT_MESSAGE, retry_after=retry_after)
    return selectors.tag_by_code(typed=typed[:40])


def message_attempt(*, client: str) -> None:
    """Count a finder's message attempt against their budget; raises TooMany past it. Counted before the message
    is validated, so malformed posts use the budget up too."""
    retry_after = hit("message", client, settings.RATE_MESSAGE_PER_CLIENT)
    if retry_after is not None:
        raise TooMany("You have sent several messages already.", retry_after=retry_after)


def message_relay(*, tag: Tag, message: str, name: str = "", contact: str = "") -> Notification:
    """A valid finder's message, within the tag's budget (raises TooMany past it), relayed to the owner."""
    # Counted only here: only messages that would reach the owner use up the tag's budget.
    retry_after = hit("message-tag", str(tag.pk), settings.RATE_MESSAGE_PER_TAG)
    if retry_after is not None:
        raise TooMany("This thing's owner has received many messages recently.", retry_after=retry_after)
    return message_send(tag=tag, message=message, name=name, contact=contact)


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


@transaction.atomic
def nfc_setting_update(*, twin: Twin, genuine_tap_for_readings: bool) -> NfcSetting:
    """The owner's choice: do one-tap readings logged from a scan of this thing's tag need a genuine tap?"""
    leaving.refuse_if_leaving(twin)  # the setting travels with the thing
    setting, _ = NfcSetting.objects.update_or_create(
        twin=twin, defaults={"genuine_tap_for_readings": genuine_tap_for_readings}
    )
    return setting


def demo_sticker(twin: Twin) -> Tag:
    """The demo data's tag for a demo thing (twins.demo, registered in tags.apps)."""
    return Tag.objects.create(twin=twin, label="Sticker")
