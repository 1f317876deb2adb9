"""The outbox's part of the sharing app: delivering permitted notifications (sharing.attempts, sharing.send, run by
sharing.tasks), receiving them at our own agents (sharing.receive), and replaying the dead letter
(sharing.replay). This module wires those into the seams."""

from __future__ import annotations

from django.db.models.signals import post_save

from didcomm import dispatch
from sharing.models import OutboxItem
from sharing.receive import notification_receive
from sharing.send import NOTIFICATION
from sharing.tasks import deliver_after_commit


def _item_created(sender, instance: OutboxItem, created: bool, raw: bool = False, **kwargs) -> None:
    # Whoever writes an item (the grants part, in the event's transaction), its delivery is scheduled for the end
    # of its window once that transaction commits; a rollback schedules nothing. Items written with bulk_create
    # send no signal: their writer calls sharing.tasks.deliver_after_commit, and the due-sweep catches any left.
    if created and not raw:
        deliver_after_commit([instance])


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready)."""
    dispatch.register_handler(NOTIFICATION, notification_receive)
    post_save.connect(_item_created, sender=OutboxItem, dispatch_uid="sharing.delivery.item_created")
