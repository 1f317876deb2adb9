"""A twin on its way to another instance (issue 18): from the owner's confirmation of a move until the old host lets
go, or the move is called off, nothing new is written for it here.

The move's package is built at the confirmation; a reading, note, scan or message accepted after it would stay
behind on the old host. So the moves app marks the twin with :func:`freeze` in the confirmation's transaction and
unmarks it with :func:`thaw` when the move is cancelled or fails; the release (twins.moving) leaves it marked, as
``moved_to`` refuses writes from then on anyway. Writers refuse a leaving twin with :class:`TwinLeaving` (503 with
Retry-After: the sender tries again, and then reaches the new host through the old one's 308).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from core.errors import Conflict
from twins import events
from twins.models import Twin

# Seconds a refused sender is told to wait: a move normally finishes within a minute.
RETRY_AFTER = 60


class TwinLeaving(Conflict):
    """The thing is on its way to another instance: nothing is written for it here now (503, Retry-After)."""

    status = 503
    retry_after = RETRY_AFTER
    message = "This thing is moving to another instance right now: try again in a minute."


def _host(url: str) -> str:
    """The host name words name another instance by (the URL itself if it has none)."""
    return urlsplit(url).hostname or url


def refusal(twin: Twin) -> TwinLeaving:
    """The refusal for ``twin`` (on its way to ``twin.leaving_to``), in words its sender can act on."""
    return TwinLeaving(
        f"{twin.name or 'This thing'} is moving to {_host(twin.leaving_to)} right now: "
        "nothing new is recorded for it here. Try again in a minute; it will then answer from its new home.",
        extra={"moving_to": twin.leaving_to, "retry_after": RETRY_AFTER},
    )


def owner_refusal(twin: Twin) -> TwinLeaving:
    """The refusal of a write by ``twin``'s owner on this host (its pages and API, twins.not_live): what they can do
    about it (wait for the new host, or cancel the move)."""
    return TwinLeaving(
        f"{twin.name or 'This thing'} is on its way to {_host(twin.leaving_to)}: "
        "nothing can change here until it arrives there. Make the change on its new host once it has arrived, "
        "or cancel the move from your Moves page to keep it here.",
        extra={"moving_to": twin.leaving_to, "retry_after": RETRY_AFTER},
    )


class TwinMoved(Conflict):
    """The thing lives on another instance now (``moved_to``): nothing is written for it here any more (409)."""

    message = "This thing has moved to another instance: it is recorded there now, not here."


def moved_refusal(twin: Twin, *, named: bool = True) -> TwinMoved:
    """The refusal for ``twin``, which moved to ``twin.moved_to``, naming the new host (public: the thing's pages
    answer 308 there for anyone); ``named``: with the thing's name, for its owner."""
    name = (twin.name if named else "") or "This thing"
    return TwinMoved(
        f"{name} has moved to {_host(twin.moved_to)}: "
        "it is recorded there now, nothing new is recorded for it here. Open it on its new host.",
        extra={"moved_to": twin.moved_to},
    )


def quiet_refusal() -> TwinLeaving:
    """The refusal of a write for a leaving thing by someone who may not be its owner (a keeper, a maker, a
    peer): that it is moving and when to try again, not its name nor where it goes (not public until it has gone)."""
    return TwinLeaving(
        "This thing is moving to another host right now: nothing new is recorded for it here. Try again in a minute.",
        extra={"retry_after": RETRY_AFTER},
    )


def check(twin: Twin, *, named: bool = True) -> None:
    """Raise :class:`TwinMoved` if ``twin`` (as loaded: lock it first where a race matters) moved away, or
    :class:`TwinLeaving` if it is on its way. The release leaves ``leaving_to`` set, so moved comes first.
    ``named``: the words name the thing and its new host (:func:`refusal`), for a caller that acts for the owner;
    otherwise :func:`quiet_refusal`'s, and the moved refusal without the thing's name."""
    if getattr(twin, "moved_to", ""):
        raise moved_refusal(twin, named=named)
    if getattr(twin, "leaving_to", ""):
        raise refusal(twin) if named else quiet_refusal()


def refuse_if_leaving(twin: Twin) -> None:
    """For a write of what travels with ``twin`` outside its signed history (its own fields, its photo): take its
    row lock, as the confirmation of a move does, and refuse (:func:`check`) if it moved or is on its way. Call it
    first in the write's transaction: a confirmation racing the write then waits for it (and packs what it wrote),
    or the write waits for the confirmation and is refused."""
    check(Twin.objects.select_for_update().only(*_CHECKED).get(pk=twin.pk))


# What :func:`check` reads of a locked row.
_CHECKED = ("id", "name", "moved_to", "leaving_to")


def refuse_if_any_leaving(twin_ids: Iterable[int]) -> None:
    """:func:`refuse_if_leaving` for several things at once: one query, the rows locked in primary-key order (as
    every writer of several things locks them, so two cannot deadlock). No ids, no query."""
    ids = sorted(set(twin_ids))
    if ids:
        for twin in Twin.objects.select_for_update().filter(pk__in=ids).order_by("pk").only(*_CHECKED):
            check(twin)


def freeze(twin: Twin, *, destination_url: str) -> None:
    """Mark ``twin`` leaving for ``destination_url``; call inside the transaction that holds its row lock."""
    Twin.objects.filter(pk=twin.pk).update(leaving_to=destination_url.rstrip("/"))
    twin.leaving_to = destination_url.rstrip("/")
    events.send(events.LeavingChanged(twin_id=twin.pk))


def thaw(twin_id: int) -> None:
    """The move was called off or failed: the twin takes writes here again (a twin that moved stays moved)."""
    if Twin.objects.filter(pk=twin_id, moved_to="").update(leaving_to=""):
        events.send(events.LeavingChanged(twin_id=twin_id))
