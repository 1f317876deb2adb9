"""A twin on its way to another instance (issue 18): from the owner's confirmation of a move until the old host lets
go, or the move is called off, nothing new is written for it here.

The move's package is built at the confirmation; a reading, note, scan or message accepted after it would stay
behind on the old host. So the moves app marks the twin with :func:`freeze` in the confirmation's transaction and
unmarks it with :func:`thaw` when the move is cancelled or fails; the release (twins.moving) leaves it marked, as
``moved_to`` refuses writes from then on anyway. Writers refuse a leaving twin with :class:`TwinLeaving` (503 with
Retry-After: the sender tries again, and then reaches the new host through the old one's 308).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from core.errors import Conflict
from twins.models import Twin

# Seconds a refused sender is told to wait: a move normally finishes within a minute.
RETRY_AFTER = 60


class TwinLeaving(Conflict):
    """The thing is on its way to another instance: nothing is written for it here now (503, Retry-After)."""

    status = 503
    retry_after = RETRY_AFTER
    message = "This thing is moving to another instance right now: try again in a minute."


def refusal(twin: Twin) -> TwinLeaving:
    """The refusal for ``twin`` (on its way to ``twin.leaving_to``), in words its sender can act on."""
    host = urlsplit(twin.leaving_to).hostname or twin.leaving_to
    return TwinLeaving(
        f"{twin.name or 'This thing'} is moving to {host} right now: nothing new is recorded for it here. "
        "Try again in a minute; it will then answer from its new home.",
        extra={"moving_to": twin.leaving_to, "retry_after": RETRY_AFTER},
    )


def check(twin: Twin) -> None:
    """Raise :class:`TwinLeaving` if ``twin`` (as loaded: lock it first where a race matters) is leaving."""
    if getattr(twin, "leaving_to", ""):
        raise refusal(twin)


def freeze(twin: Twin, *, destination_url: str) -> None:
    """Mark ``twin`` leaving for ``destination_url``; call inside the transaction that holds its row lock."""
    Twin.objects.filter(pk=twin.pk).update(leaving_to=destination_url.rstrip("/"))
    twin.leaving_to = destination_url.rstrip("/")


def thaw(twin_id: int) -> None:
    """The move was called off or failed: the twin takes writes here again (a twin that moved stays moved)."""
    Twin.objects.filter(pk=twin_id, moved_to="").update(leaving_to="")
