"""The finder's page, rendered once and kept in the cache until what it shows changes.

The page differs per visitor only in its CSRF token, so it is stored as the text before and after the token and
spliced per request. Anonymous visitors only: a signed-in visitor's header differs. Entries are dropped when
the tag, its thing or the owner's contact card is saved (signals below, plus explicit calls where a queryset
`update()` bypasses signals), and expire after PAGE_SECONDS regardless.

With Redis the entry is plain JSON under `page_key(token)`, so the scan view can fetch it in the same round trip
as its rate-limit counter (core.ratelimit.hit_with); without Redis it lives in Django's cache.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.template.loader import render_to_string
from redis.exceptions import RedisError

from core.redis import redis_client
from owners.models import Owner
from tags.models import Tag
from twins.models import Twin

log = logging.getLogger(__name__)

PAGE_SECONDS = 60
_MARKER = "\x00csrf\x00"


def page_key(token: str) -> str:
    return f"tags:page:{token}"


def cached_page(token: str) -> dict[str, Any] | None:
    client = redis_client()
    if client is None:
        return cache.get(page_key(token))
    return decode_page(client.get(page_key(token)))


def decode_page(raw: bytes | None) -> dict[str, Any] | None:
    return json.loads(raw) if raw else None


def store_page(tag: Tag, context: dict[str, Any]) -> dict[str, Any]:
    """Render the public page with a marker where the CSRF token goes and keep it."""
    html = render_to_string("tags/public.html", {**context, "csrf_token": _MARKER})
    before, _, after = html.partition(_MARKER)
    twin = tag.twin
    page = {"before": before, "after": after, "tag": tag.pk, "twin": twin.pk, "owner": twin.owner_id, "name": twin.name}
    client = redis_client()
    if client is None:
        cache.set(page_key(tag.token), page, PAGE_SECONDS)
    else:
        client.set(page_key(tag.token), json.dumps(page), ex=PAGE_SECONDS)
    return page


def page_html(page: dict[str, Any], csrf_token: str) -> str:
    return page["before"] + csrf_token + page["after"]


def forget_tags(tokens: list[str]) -> None:
    if not tokens:
        return
    keys = [page_key(token) for token in tokens]
    client = redis_client()
    if client is None:
        cache.delete_many(keys)
        return
    try:
        client.delete(*keys)
    except RedisError:
        # Redis is down: the change that called this has committed or will, and must not fail for a cache. While
        # Redis is down no cached page is served; an entry that survives the outage expires within PAGE_SECONDS.
        log.warning("public page cache: could not drop %d entries (Redis unavailable)", len(keys))


def forget_twin(twin_id: int) -> None:
    forget_tags(list(Tag.objects.filter(twin_id=twin_id).values_list("token", flat=True)))


@receiver(post_save, sender=Tag)
@receiver(post_delete, sender=Tag)
def _tag_changed(sender, instance: Tag, **kwargs) -> None:
    forget_tags([instance.token])


@receiver(post_save, sender=Twin)
@receiver(post_delete, sender=Twin)
def _twin_changed(sender, instance: Twin, **kwargs) -> None:
    forget_twin(instance.pk)


@receiver(post_save, sender=Owner)
def _owner_changed(sender, instance: Owner, **kwargs) -> None:
    # The profile contact card shows on every thing that uses it.
    forget_tags(list(Tag.objects.filter(twin__owner_id=instance.pk).values_list("token", flat=True)))
