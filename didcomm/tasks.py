"""Background work for the DIDComm agents: outbound delivery runs in the task worker, never in a request."""

from __future__ import annotations

from django.tasks import task


@task()
def deliver_outbound(outbound_id: int) -> None:
    """Send one queued message (see didcomm.transport.deliver); a temporary failure re-enqueues this task for
    the message's next attempt."""
    from didcomm.transport import deliver

    deliver(outbound_id)


@task()
def deliver_due_outbound() -> int:
    """The safety net, for a scheduler to enqueue every few minutes: re-enqueue queued messages whose attempt is
    due (see didcomm.transport.deliver_due)."""
    from didcomm.transport import deliver_due

    return deliver_due()
