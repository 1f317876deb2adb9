"""The finder's page, rendered once and kept in the cache until what it shows changes.

The page is the same for every anonymous visitor: its message form carries no per-visitor CSRF token (the form is
protected by its Origin / Sec-Fetch-Site instead, docs/security.md "The finder's message form"), so the kept HTML
is served as it is. Anonymous visitors only: a signed-in visitor's header differs. Entries are dropped when the
tag, its thing or the owner's contact card is saved (signals below, plus explicit calls where a queryset
`update()` bypasses signals), and expire after PAGE_SECONDS regardless.

With Redis the entry is a hash under `page_key(token)`: `html`, and `scan`, the start of the scan's buffered item
(tags.scan_buffer.item_prefix), so that one Lua script counts the finder's rate limit, fetches the page and buffers
the scan in one round trip (tags.scan_buffer.scan_hit). Without Redis it is a dict in Django's cache.
"""

from __future__ import annotations

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
from tags.scan_buffer import item_prefix
from twins import events
from twins.models import Twin

log = logging.getLogger(__name__)

PAGE_SECONDS = 60


def page_key(token: str) -> str:
    # Not "tags:page:…", where earlier releases kept a JSON string: a hash command on one of those (still alive
    # for PAGE_SECONDS after an upgrade) would fail with WRONGTYPE.
    return f"tags:public-page:{token}"


def cached_page(token: str) -> dict[str, Any] | None:
    """Without Redis: the kept page (`html`, and the ids a scan of it records: `tag`, `twin`, `owner`, `name`)."""
    return cache.get(page_key(token))


def store_page(tag: Tag, context: dict[str, Any]) -> str:
    """Render the anonymous public page, keep it, and return its HTML."""
    html = render_to_string("tags/public.html", context)
    twin = tag.twin
    client = redis_client()
    if client is None:
        page = {"html": html, "tag": tag.pk, "twin": twin.pk, "owner": twin.owner_id, "name": twin.name}
        cache.set(page_key(tag.token), page, PAGE_SECONDS)
        return html
    key = page_key(tag.token)
    # MULTI: the hash never exists without its lifetime.
    pipe = client.pipeline(transaction=True)
    pipe.delete(key)
    pipe.hset(key, mapping={"html": html, "scan": item_prefix(tag_id=tag.pk, twin_id=twin.pk)})
    pipe.expire(key, PAGE_SECONDS)
    pipe.execute()
    return html


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


def on_leaving_changed(event: events.LeavingChanged) -> None:
    forget_twin(event.twin_id)


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
