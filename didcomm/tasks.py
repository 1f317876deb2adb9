"""Background work for the DIDComm agents: outbound delivery runs in the task worker, never in a request."""

from __future__ import annotations

from django.tasks import task


@task()
def deliver_outbound(outbound_id: int) -> None:
    from didcomm.transport import deliver

    deliver(outbound_id)
