"""What a twin's DIDComm agent does when the twin moves to another instance (issue 18); its data travels in the
move's package (didcomm.portability).

On the destination, once the twin has arrived (``twins.events.TwinArrived``, after commit): its peers still know
the agent by pairwise DIDs whose endpoint is the instance it left. Every completed connection therefore rotates
(RFC 0794 DID Rotate, the path a transfer takes: didcomm.outbox) to a fresh pairwise did:peer:4 naming THIS
instance's endpoint. The rotate is packed from the old pairwise key, which came in the package, so the peer knows
whose it is. RFC 0794 sends the ack to the prior DID, which names the old instance: the rotate asks for it on the
same HTTP connection (didcomm.transport, RFC 0092), the old instance passes on an ack that reaches it all the same
(didcomm.relay: ACA-Py's does), and failing both, the peer's first message to the new DID completes the rotation
(didcomm.rotate.ack_implied). Then what the agent had queued before the move, held while the twin was arriving,
goes out.

A connection still in the middle of DID Exchange (our request sent, or our response sent: the peer's next message
goes to the DID we gave it, which names the old instance, where nothing is taken any more) cannot complete: it
is called off (:func:`exchanges_call_off`). The peer gets the exchange's own problem report (RFC 0023; ACA-Py 1.7
abandons its side on it), and the owner is told in words, to ask for (or send) a new invitation.

On the source, once the move is released (``twins.events.TwinMovedAway``, in the release's transaction): nothing
the agent queued is sent any more (the transport also refuses to send anything but a problem report for a twin
that moved, whoever queued it). What peers send afterwards is answered with a problem report saying where the
thing went, and nothing of it is recorded (didcomm.inbound); its invitations stop working the same way. The one
exception is the peer's ack of the rotation above, passed on to the new instance as it came (didcomm.relay).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from didcomm import keys, outbox, rotate
from didcomm.models import Connection, OutboundMessage
from didcomm.tasks import deliver_after_commit
from didcomm.timeline import peer_name
from owners.models import Notification
from owners.services import notify
from ssi import didexchange
from ssi.messages import problem_report
from twins.events import TwinArrived, TwinMovedAway

# DID Exchange not finished when the twin arrived: what each side of it is told (RFC 0023 codes ACA-Py knows).
HALF_DONE = (Connection.State.REQUESTED, Connection.State.RESPONDED)
CALLED_OFF = "the thing moved to another host before this connection was finished: ask for a new invitation"


def _names_here(did: str) -> bool:
    """Whether a pairwise DID of ours names this instance's endpoint (a DID Exchange 1.0 DID names none)."""
    if not did:
        return False
    try:
        return didexchange.resolve_did(did).endpoint == keys.endpoint_url()
    except didexchange.ExchangeError:
        return False


def connections_move_here(*, twin_id: int) -> int:
    """Rotate every completed connection of the twin's agent to a pairwise DID naming this instance; returns how
    many started. Idempotent: a connection whose DID (or pending new one) already names this instance is left.

    A rotation started on the instance the twin left, which the peer never answered, is given up first: its new
    DID names that instance. Each connection in its own transaction: one that cannot rotate leaves the others be.
    """
    started = 0
    for connection in Connection.objects.filter(agent__twin_id=twin_id, state=Connection.State.COMPLETED):
        if _names_here(connection.next_did if connection.next_verkey else connection.my_did):
            continue
        try:
            with transaction.atomic():
                rotate.rotation_drop(connection=connection)
                outbox.connection_rotate(connection=connection)
        except rotate.RotateError:
            continue
        started += 1
    return started


def exchanges_call_off(*, twin_id: int) -> int:
    """Call off every DID Exchange of the twin's agent that was not finished when it left the old instance (see
    the module docstring); returns how many. Each in its own transaction, conditional on its state (a second
    arrival event finds nothing to do)."""
    called_off = 0
    for connection in Connection.objects.filter(agent__twin_id=twin_id, state__in=HALF_DONE):
        with transaction.atomic():
            locked = (
                Connection.objects.select_for_update(of=("self",))
                .select_related("agent__twin__owner")
                .filter(pk=connection.pk, state__in=HALF_DONE)
                .first()
            )
            if locked is None:
                continue
            _call_off(locked)
        called_off += 1
    return called_off


def _call_off(connection: Connection) -> None:
    """One half-done exchange (locked): abandoned, its peer told on the exchange's thread, its owner told."""
    requester = connection.role == Connection.Role.REQUESTER
    keys.connection_abandon(connection=connection)  # its keys open nothing; what waited on it is not sent
    Connection.objects.filter(pk=connection.pk).update(error=CALLED_OFF, updated_at=timezone.now())
    report = problem_report(
        thid=connection.thread_id,
        # We asked and never got the answer / we answered and never got the complete.
        code="response_processing_error" if requester else "request_processing_error",
        explanation=f"{CALLED_OFF}.",
        key=f"didexchange/{connection.protocol or '1.1'}/problem_report",
    )
    if connection.thread_id and connection.their_verkey and connection.their_endpoint:
        deliver_after_commit(
            [
                OutboundMessage.objects.create(
                    agent=connection.agent,
                    connection=connection,
                    to_verkey=connection.their_verkey,
                    message_id=report["@id"],
                    type=report["@type"],
                    body=report,
                )
            ]
        )
    twin = connection.agent.twin
    peer = peer_name(connection)
    notify(
        owner=twin.owner,
        kind=Notification.Kind.SYSTEM,
        title=f"Connection with {peer} called off"[:200],
        body=(
            f"{twin.name} moved here while its connection with {peer} was still being set up, and that cannot "
            f"finish now: it was called off and {peer} was told. "
            + ("Ask them for a new invitation." if requester else "Send them a new invitation.")
        ),
        twin=twin,
        sender_name=peer[:100],
    )


def held_release(*, twin_id: int) -> int:
    """Send what the agent queued before the move (held by the transport while the twin was arriving); returns
    how many."""
    waiting = OutboundMessage.objects.filter(agent__twin_id=twin_id, status=OutboundMessage.Status.QUEUED)
    with transaction.atomic():
        held = list(waiting.select_for_update(of=("self",)))
        waiting.filter(pk__in=[message.pk for message in held]).update(next_attempt_at=None)
        deliver_after_commit(held)
    return len(held)


def on_arrived(event: TwinArrived) -> None:
    """The twins.events subscriber (didcomm.apps), after the arrival commits: rotations first, so that what was
    held goes out once the peer may already know the new DID (either way it is packed with a key it knows)."""
    exchanges_call_off(twin_id=event.twin_id)
    connections_move_here(twin_id=event.twin_id)
    held_release(twin_id=event.twin_id)


def on_moved_away(event: TwinMovedAway) -> None:
    """The twins.events subscriber (didcomm.apps), in the release's transaction: nothing queued goes out."""
    OutboundMessage.objects.filter(agent__twin_id=event.twin_id, status=OutboundMessage.Status.QUEUED).update(
        status=OutboundMessage.Status.FAILED,
        last_error=f"not sent: the thing moved to {event.moved_to}"[:500],
        claimed_until=None,
        next_attempt_at=None,
    )
