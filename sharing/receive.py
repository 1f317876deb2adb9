"""Receiving permitted notifications: our own agents (an organisation's, an owner's) are parties too, and take
``thingstead:notify/1.0/notification`` messages from the twins that granted them data.

Each is stored once per connection and message id (:class:`sharing.models.ReceivedNotification`): a sender's
retry of a message we already have is acknowledged (no problem report, nothing stored again). didcomm.inbound
already takes each ``@id`` once per connection; the unique constraint here holds even if a message reached us
twice before either receipt committed.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from didcomm.handlers import Context
from sharing.models import ConnectionSubject, ReceivedNotification
from ssi import messages

PROBLEM_INVALID = "invalid-notification"
PROBLEM_NOT_SUBJECT = "not-this-connections-thing"
MAX_KIND = 60
MAX_THING = 300


def _refused(ctx: Context, code: str, explanation: str) -> dict[str, Any]:
    return messages.problem_report(thid=ctx.message.message_id, code=code, explanation=explanation)


def notification_receive(ctx: Context) -> dict[str, Any] | None:
    """The DIDComm handler (registered by sharing.delivery.connect). Returns a problem report for a message that
    is not a notification we can store, else ``None`` (nothing to answer).

    The thing is checked against what the connection is about: if the connection has subjects
    (ConnectionSubject, made by the introduction), a notification about another thing is refused, so a peer
    cannot file data under a thing its connection is not about. A connection with no subject takes the thing as
    the sender names it.
    """
    if ctx.connection is None:
        return None  # didcomm.inbound takes nothing but a DID Exchange request outside a connection
    body = ctx.body
    kind, thing, items, count = body.get("kind"), body.get("thing"), body.get("items"), body.get("count")
    if not isinstance(kind, str) or not kind or len(kind) > MAX_KIND:
        return _refused(ctx, PROBLEM_INVALID, f"a notification names its kind (a string of at most {MAX_KIND})")
    if not isinstance(thing, str) or not thing or len(thing) > MAX_THING:
        return _refused(ctx, PROBLEM_INVALID, "a notification names its thing (the twin's DID)")
    if not isinstance(items, list):
        return _refused(ctx, PROBLEM_INVALID, "a notification's items are a list")
    if count is None:
        count = len(items)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return _refused(ctx, PROBLEM_INVALID, "a notification's count is a whole number")
    subjects = ConnectionSubject.objects.filter(connection=ctx.connection)
    if subjects.exists() and not subjects.filter(thing_did=thing).exists():
        return _refused(ctx, PROBLEM_NOT_SUBJECT, "this connection is not about that thing")
    try:
        with transaction.atomic():
            ReceivedNotification.objects.create(
                connection=ctx.connection,
                message_id=ctx.message.message_id,
                kind=kind,
                thing=thing,
                body=body,
                count=count,
            )
    except IntegrityError:
        pass  # the same message id, received once already: acknowledged, not stored twice
    return None
