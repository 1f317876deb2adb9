"""On the instance a twin moved away from: pass the peer's ack of the rotation the twin's agent started on the new
instance there, as it came (the envelope, untouched; nothing of it recorded here).

After a move the twin's agent rotates every connection to a DID naming its new instance (didcomm.moving), and RFC
0794 has the peer send its ack to the PRIOR DID, which names this instance: ACA-Py 1.7.0 does exactly that (its
ack does not come back on the rotate's own connection). Without the ack the new instance keeps sending from the
old pairwise key, which the peer no longer takes. Everything else a peer sends here is answered with a problem
report saying where the thing went (didcomm.inbound).

The relay is a task (the endpoint may be busy, or the twin not open there yet: 503), retried on the outbound
schedule (didcomm.transport) with backends that can defer; the envelope travels base64 in the task's arguments.
"""

from __future__ import annotations

import base64
import logging

from django.db import transaction
from django.tasks import task
from django.utils import timezone

from didcomm.transport import HttpTransport, TransportError, backoff

logger = logging.getLogger(__name__)


def endpoint_of(base_url: str) -> str:
    """The DIDComm endpoint of the instance at ``base_url`` (as didcomm.keys.endpoint_url names ours)."""
    return f"{base_url.rstrip('/')}/didcomm/"


def relay_after_commit(*, moved_to: str, raw: bytes) -> None:
    """Have the worker pass ``raw`` to the DIDComm endpoint of ``moved_to`` once the current transaction commits."""
    endpoint, data = endpoint_of(moved_to), base64.b64encode(raw).decode()
    transaction.on_commit(lambda: relay_envelope.enqueue(endpoint, data))


@task()
def relay_envelope(endpoint: str, envelope: str, attempt: int = 1) -> None:
    """POST the envelope (base64) to ``endpoint``; a temporary failure is tried again later (while attempts last)."""
    try:
        HttpTransport().send(endpoint, base64.b64decode(envelope))
    except TransportError as exc:
        wait = None if exc.permanent else backoff(attempt)
        if wait is not None and relay_envelope.get_backend().supports_defer:
            relay_envelope.using(run_after=timezone.now() + wait).enqueue(endpoint, envelope, attempt + 1)
            return
        logger.warning("DIDComm relay to the moved twin's instance gave up after %s attempt(s): %s", attempt, exc)
        return
    logger.info("DIDComm relay: an envelope passed to the moved twin's instance")
