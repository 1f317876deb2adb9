"""Introductions (Aries RFC 0028): a twin introduces its owner to another party, its manufacturer, and the owner
decides. Nothing about the owner reaches the party unless the owner accepts.

The twin is the **introducer**; the owner and the party are the introducees. The party's agent may be on this
instance (an organisation's agent) or anywhere (its published RFC 0434 invitation):

1. :func:`introduction_start`: the twin's agent needs a connection with the party. An earlier introduction's is
   reused; else the twin's agent accepts an invitation of the party (a fresh one from a local party's agent, or
   the URL it published) and DID Exchange runs. The introduction is ``arranging``.
2. Once that connection is complete, the twin sends the party a ``proposal`` naming the thing (DID, GTIN,
   serial) and describing the other introducee only as "the owner of this thing".
3. The party answers with a ``response`` (:func:`proposal_receive` on its side decides through the policies
   registered with :func:`register_party_policy`: an organisation approves, saying which data kinds it asks
   for, and hands over a fresh invitation of its agent; a :class:`~sharing.models.ConnectionSubject` on that
   invitation's connection names the thing). On our side (:func:`response_receive`) the introduction becomes
   ``proposed`` and the owner gets an inbox item: the owner's leg of the introduction needs no message, as the
   owner and the twin live on this instance.
4. :func:`introduction_accept`: the twin delivers the party's invitation to the owner's agent, which accepts it
   (DID Exchange); a ConnectionSubject on the owner's new connection names the thing. When that connection
   completes, the introduction is ``connected`` (:func:`_on_connection_saved`).
   :func:`introduction_decline`: no connection; the party gets a problem report built from the thread id alone
   (ssi.introduce.declined) and drops its invitation.

Which party a twin is introduced to is a feature's knowledge (makers: the organisation that produced it), given
through :func:`register_party_finder`, so this module imports no feature above it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import post_save
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict
from didcomm import dispatch, keys, outbox
from didcomm.exchange import InvitationError
from didcomm.handlers import Context
from didcomm.models import Agent, Connection, InboundMessage, OutboundMessage
from didcomm.services import agent_for_owner, agent_for_twin
from owners.models import Notification, Owner
from owners.services import notify
from sharing.models import DATA_KINDS, ConnectionSubject, Introduction
from ssi import introduce, messages, oob
from twins import events
from twins.models import Twin

logger = logging.getLogger(__name__)

State = Introduction.State
# An introduction that stands (the panel offers no new one while one does).
LIVE = (State.ARRANGING, State.PROPOSED, State.ACCEPTED, State.CONNECTED)
# A connection that may still carry messages.
USABLE = (Connection.State.REQUESTED, Connection.State.RESPONDED, Connection.State.COMPLETED)

# How the twin describes the owner to the party before the owner has decided: nothing that identifies them.
OWNER_DESCRIPTOR = introduce.Descriptor(
    name="The owner of this thing",
    description="Whoever owns this thing now. They decide whether to connect; you learn who they are only if they do.",
    proposed=True,
)


class IntroductionRefused(Exception):
    """The introduction cannot start; ``str(exc)`` says why, for the person who asked (a 400)."""


class IntroductionConflict(Conflict):
    message = "This introduction has already been decided."


# -- who the party is, and what it answers (features register these) ----------------------------------------------


@dataclass(frozen=True)
class Party:
    """Whom a twin introduces its owner to: a local agent (an organisation's) or a published invitation of an
    agent elsewhere; and the thing as the party knows it (GTIN, serial)."""

    label: str
    agent: Agent | None = None
    invitation_url: str = ""
    gtin: str = ""
    serial: str = ""


@dataclass(frozen=True)
class PartyAnswer:
    """An introducee's decision on a proposal: approve or not, the data kinds it asks for, and why."""

    approve: bool
    asks_for: tuple[str, ...] = ()
    purpose: str = ""


PartyFinder = Callable[[Twin], Party | None]
PartyPolicy = Callable[[Agent, introduce.Proposal], PartyAnswer | None]

_finders: list[PartyFinder] = []
_policies: list[PartyPolicy] = []


def register_party_finder(finder: PartyFinder) -> None:
    """``finder(twin)`` names the party the twin introduces its owner to, or None (the first answer wins)."""
    if finder not in _finders:
        _finders.append(finder)


def register_party_policy(policy: PartyPolicy) -> None:
    """``policy(agent, proposal)`` decides a proposal received by one of our agents, or None to leave it to the
    next policy. With no decision, the proposal is declined: a person's agent takes no introductions unasked."""
    if policy not in _policies:
        _policies.append(policy)


def party_for(twin: Twin) -> Party | None:
    for finder in _finders:
        party = finder(twin)
        if party is not None:
            return party
    return None


def known_kinds(kinds: tuple[str, ...] | list[str]) -> list[str]:
    """The data kinds of ``kinds`` a grant can cover (DATA_KINDS, and ``readings:<kind>``); others are dropped."""
    known = []
    for kind in kinds:
        base, _, sub = kind.partition(":")
        if base in DATA_KINDS and (not sub or base == "readings") and kind not in known:
            known.append(kind)
    return known


# -- reads ------------------------------------------------------------------------------------------------------


def introduction_list(*, viewer: Owner) -> QuerySet[Introduction]:
    """The viewer's introductions, of things they still own (a sold thing's are the buyer's business)."""
    return (
        Introduction.objects.filter(owner=viewer, twin__owner=viewer)
        .exclude(state=State.ARRANGING)
        .select_related("twin")
    )


def introduction_get(*, viewer: Owner, introduction_id: int, for_update: bool = False) -> Introduction:
    """One of the viewer's introductions, of a thing they own; Http404 for anyone else's (never 403)."""
    qs = Introduction.objects.filter(pk=introduction_id, owner=viewer, twin__owner=viewer)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    introduction = qs.select_related("twin", "party_connection", "owner_connection").first()
    if introduction is None:
        raise Http404("No such introduction.")
    return introduction


def introduction_current(*, twin: Twin) -> Introduction | None:
    """The twin's standing introduction of its present owner (arranging, proposed, accepted or connected)."""
    return Introduction.objects.filter(twin=twin, owner_id=twin.owner_id, state__in=LIVE).first()


# -- the introducer (our twin) -------------------------------------------------------------------------------------


def _party_connection(twin: Twin, party: Party) -> Connection:
    """The twin's connection with the party: an earlier introduction's while it is usable, else a new one (the
    twin's agent accepts the party's invitation; DID Exchange then runs through the task worker)."""
    earlier = (
        Introduction.objects.filter(twin=twin, party_connection__state__in=USABLE)
        .select_related("party_connection")
        .first()
    )
    if earlier is not None:
        return earlier.party_connection
    url = party.invitation_url
    if party.agent is not None:
        url = outbox.invitation_create(agent=party.agent).invitation_url
    if not url:
        raise IntroductionRefused(f"{party.label} has no agent to be introduced to.")
    try:
        return outbox.invitation_accept(agent=agent_for_twin(twin), invitation_url=url)
    except InvitationError as exc:
        raise IntroductionRefused(f"The invitation of {party.label} cannot be used: {exc}") from None


@transaction.atomic
def introduction_start(*, twin: Twin, party: Party) -> Introduction:
    """The twin introduces its present owner to ``party`` (see the module docstring). A standing introduction of
    that owner is returned as it is: starting twice makes one. Raises IntroductionRefused."""
    # The twin's row lock serialises two starts (a claim and a tap on the panel at once).
    twin = Twin.objects.select_for_update().get(pk=twin.pk)
    if twin.deactivated_at is not None:
        raise IntroductionRefused("This thing is deactivated: it introduces nobody.")
    current = introduction_current(twin=twin)
    if current is not None:
        return current
    connection = _party_connection(twin, party)
    introduction = Introduction.objects.create(
        twin=twin,
        owner_id=twin.owner_id,
        party_connection=connection,
        party_label=(party.label or connection.their_label or "the manufacturer")[:255],
        thread_id=str(uuid.uuid4()),
        state=State.ARRANGING,
        thing_gtin=party.gtin,
        thing_serial=party.serial,
    )
    if connection.state == Connection.State.COMPLETED:
        _propose(introduction)
    return introduction


def _propose(introduction: Introduction) -> None:
    """The proposal to the party, on the twin's connection with it; its @id is the introduction's thread."""
    twin = introduction.twin
    thing = introduce.Thing(did=twin.did, gtin=introduction.thing_gtin, serial=introduction.thing_serial)
    body = introduce.proposal(to=OWNER_DESCRIPTOR, thing=thing, message_id=introduction.thread_id)
    outbox.outbound_enqueue(connection=introduction.party_connection, body=body)


def _on_connection_saved(sender: type, instance: Connection, **kwargs: Any) -> None:
    """Moves introductions on as the connections they wait for change (post_save of didcomm's Connection: the
    DID Exchange steps save the connection, in the receipt's transaction).

    The twin's connection with the party completed: the proposals waiting for it go out. The owner's connection
    with the party completed: connected. Either abandoned (refused, removed): the introduction failed."""
    if instance.state == Connection.State.COMPLETED:
        waiting = Introduction.objects.filter(party_connection=instance, state=State.ARRANGING).select_related("twin")
        for introduction in waiting:
            sent = OutboundMessage.objects.filter(connection=instance, message_id=introduction.thread_id)
            if not sent.exists():
                introduction.party_connection = instance
                _propose(introduction)
        Introduction.objects.filter(owner_connection=instance, state=State.ACCEPTED).update(state=State.CONNECTED)
    elif instance.state == Connection.State.ABANDONED:
        Introduction.objects.filter(party_connection=instance, state=State.ARRANGING).update(state=State.FAILED)
        Introduction.objects.filter(owner_connection=instance, state=State.ACCEPTED).update(state=State.FAILED)


def _problem(ctx: Context, code: str, explanation: str) -> dict[str, Any]:
    thid, _ = messages.thread_of(ctx.body)
    return messages.problem_report(
        thid=thid or ctx.message.message_id,
        code=code,
        explanation=explanation,
        key=messages.INTRODUCE_PROBLEM_REPORT,
    )


def response_receive(ctx: Context) -> dict[str, Any] | None:
    """The party's ``response`` to our twin's proposal. Approved with an invitation: the owner is asked (inbox
    item). Refused, or unusable: the introduction failed and the owner is not bothered."""
    thid, _ = messages.thread_of(ctx.body)
    introduction = (
        Introduction.objects.select_for_update(of=("self",))
        .select_related("twin", "owner")
        .filter(thread_id=thid or "", party_connection=ctx.connection)
        .first()
        if ctx.connection is not None
        else None
    )
    if introduction is None:
        return _problem(ctx, introduce.NOT_UNDERSTOOD, "no introduction of ours is on this thread")
    if introduction.state != State.ARRANGING:
        return None  # answered already (a second response on the thread changes nothing)
    try:
        answer = introduce.parse_response(ctx.body)
    except introduce.IntroduceError as exc:
        introduction.state = State.FAILED
        introduction.save(update_fields=["state"])
        return _problem(ctx, introduce.NOT_UNDERSTOOD, str(exc))
    twin = introduction.twin
    if not answer.approve or answer.invitation is None or twin.owner_id != introduction.owner_id:
        # Refused, no way to connect offered, or the thing changed hands meanwhile: the owner is not asked.
        introduction.state = State.FAILED
        introduction.save(update_fields=["state"])
        return None
    introduction.invitation = answer.invitation.message
    introduction.asks_for = known_kinds(answer.asks_for)
    introduction.message = answer.purpose[:2000]
    introduction.state = State.PROPOSED
    introduction.save(update_fields=["invitation", "asks_for", "message", "state"])
    asks = ", ".join(introduction.asks_for) or "nothing yet"
    notify(
        owner=introduction.owner,
        kind=Notification.Kind.INTRODUCTION,
        title=f"{introduction.party_label} would like to connect"[:200],
        body=(
            f"{twin.name} can introduce you to {introduction.party_label}. They ask for: {asks}. "
            "Nothing about you is shared unless you accept, and accepting shares no data by itself."
        ),
        twin=twin,
        sender_name=twin.name[:100],
        action_url=reverse("introduction", args=[introduction.pk]),
        action_label="Review",
    )
    return None


@transaction.atomic
def introduction_accept(*, owner: Owner, introduction_id: int) -> Introduction:
    """The owner accepts: the twin delivers the party's invitation (RFC 0028, ``~thread.pthid`` naming the
    introduction) to the owner's agent, which starts DID Exchange with the party. Only the owner of the thing
    may (404 for anyone else); anything but a proposed introduction is a 409."""
    introduction = introduction_get(viewer=owner, introduction_id=introduction_id, for_update=True)
    if introduction.state != State.PROPOSED:
        raise IntroductionConflict(f"This introduction is {introduction.get_state_display().lower()} already.")
    delivered = introduce.delivered_invitation(introduction.invitation, thid=introduction.thread_id)
    agent = agent_for_owner(owner)
    try:
        with transaction.atomic():
            connection = outbox.invitation_accept(
                agent=agent, invitation_url=oob.invitation_url(delivered, keys.endpoint_url())
            )
    except (InvitationError, oob.OOBError) as exc:
        logger.warning("introduction %s: the party's invitation cannot be accepted: %s", introduction.pk, exc)
        introduction.state = State.FAILED
        introduction.decided_at = timezone.now()
        introduction.save(update_fields=["state", "decided_at"])
        return introduction
    twin = introduction.twin
    ConnectionSubject.objects.get_or_create(
        connection=connection,
        thing_did=twin.did,
        defaults={"gtin": introduction.thing_gtin, "serial": introduction.thing_serial, "twin": twin},
    )
    introduction.owner_connection = connection
    introduction.state = State.CONNECTED if connection.state == Connection.State.COMPLETED else State.ACCEPTED
    introduction.decided_at = timezone.now()
    introduction.save(update_fields=["owner_connection", "state", "decided_at"])
    return introduction


@transaction.atomic
def introduction_decline(*, owner: Owner, introduction_id: int) -> Introduction:
    """The owner declines: no connection is made. The party hears that the introduction will not happen (a
    problem report carrying the thread id only), so it can drop its invitation; nothing about the owner."""
    introduction = introduction_get(viewer=owner, introduction_id=introduction_id, for_update=True)
    if introduction.state != State.PROPOSED:
        raise IntroductionConflict(f"This introduction is {introduction.get_state_display().lower()} already.")
    introduction.state = State.DECLINED
    introduction.decided_at = timezone.now()
    introduction.save(update_fields=["state", "decided_at"])
    connection = introduction.party_connection
    if connection.state == Connection.State.COMPLETED:
        outbox.outbound_enqueue(connection=connection, body=introduce.declined(thid=introduction.thread_id))
    return introduction


def introduce_twin(*, twin: Twin) -> Introduction:
    """Start (or find) the introduction of the twin's owner to the party the features name for it; raises
    IntroductionRefused when there is none."""
    party = party_for(twin)
    if party is None:
        raise IntroductionRefused("Nobody is known to introduce this thing's owner to.")
    return introduction_start(twin=twin, party=party)


def on_transferred(event: events.Transferred) -> None:
    """In the transfer's transaction: what the seller had under way for the twin ends (the buyer is introduced
    afresh, if at all)."""
    Introduction.objects.filter(
        twin_id=event.twin_id, owner_id=event.seller_id, state__in=(State.ARRANGING, State.PROPOSED)
    ).update(state=State.FAILED)


# -- the introducee (a party's agent here: an organisation's) ------------------------------------------------------


def _decide(agent: Agent, proposal: introduce.Proposal) -> PartyAnswer:
    for policy in _policies:
        answer = policy(agent, proposal)
        if answer is not None:
            return answer
    return PartyAnswer(approve=False)


def proposal_receive(ctx: Context) -> dict[str, Any] | None:
    """A proposal to one of our agents (a party's): decided by the registered policies. Approved: a fresh
    invitation of the agent goes back in the response, with a ConnectionSubject on its connection naming the
    thing, so the connection the owner makes with it is known to be about that thing."""
    connection = ctx.connection
    # Responded counts: the introducer may propose before its DID Exchange ``complete`` arrives; a message
    # from its DID's key (didcomm.inbound found the connection by it) proves it has our response.
    if connection is None or connection.state not in (Connection.State.RESPONDED, Connection.State.COMPLETED):
        return _problem(ctx, introduce.NOT_UNDERSTOOD, "proposals are taken on established connections only")
    try:
        proposal = introduce.parse_proposal(ctx.body)
    except introduce.IntroduceError as exc:
        return _problem(ctx, introduce.NOT_UNDERSTOOD, str(exc))
    agent = ctx.message.agent
    answer = _decide(agent, proposal)
    if not answer.approve:
        return introduce.response(thid=proposal.id, approve=False)
    invitation = outbox.invitation_create(agent=agent)
    if proposal.thing is not None:
        ConnectionSubject.objects.create(
            connection=invitation,
            thing_did=proposal.thing.did,
            gtin=proposal.thing.gtin,
            serial=proposal.thing.serial,
            twin=Twin.objects.filter(did=proposal.thing.did).first(),
        )
    return introduce.response(
        thid=proposal.id,
        approve=True,
        invitation=oob.parse_url(invitation.invitation_url).message,
        asks_for=answer.asks_for,
        purpose=answer.purpose,
    )


def _our_invitation_for(ctx: Context, thid: str) -> Connection | None:
    """The invitation our agent handed out in its response to the proposal on thread ``thid``, still open."""
    proposal = InboundMessage.objects.filter(connection=ctx.connection, message_id=thid).first()
    if proposal is None:
        return None
    for reply in proposal.replies.all():
        invitation = reply.body.get("invitation") if isinstance(reply.body, dict) else None
        if isinstance(invitation, dict) and isinstance(invitation.get("@id"), str):
            return Connection.objects.filter(
                agent=ctx.message.agent,
                role=Connection.Role.RESPONDER,
                invitation_id=invitation["@id"],
                state=Connection.State.INVITED,
            ).first()
    return None


def problem_report_receive(ctx: Context) -> None:
    """A problem report of the introduce family. To a party's agent from the introducer, ``declined``: the
    invitation it handed out is withdrawn (its connection abandoned, the reason kept). To our twin from the
    party: the introduction under way failed."""
    thid, _ = messages.thread_of(ctx.body)
    if ctx.connection is None or not thid:
        return None
    introduction = Introduction.objects.filter(
        thread_id=thid, party_connection=ctx.connection, state=State.ARRANGING
    ).first()
    if introduction is not None:
        introduction.state = State.FAILED
        introduction.save(update_fields=["state"])
        return None
    if introduce.problem_code(ctx.body) == introduce.DECLINED:
        invitation = _our_invitation_for(ctx, thid)
        if invitation is not None:
            keys.connection_abandon(connection=invitation)
            Connection.objects.filter(pk=invitation.pk).update(error="the introduction was declined")
    return None


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready)."""
    dispatch.register_handler(messages.INTRODUCE_PROPOSAL, proposal_receive)
    dispatch.register_handler(messages.INTRODUCE_RESPONSE, response_receive)
    dispatch.register_handler(messages.INTRODUCE_PROBLEM_REPORT, problem_report_receive)
    events.subscribe(events.Transferred, on_transferred, in_transaction=True)
    post_save.connect(_on_connection_saved, sender=Connection, dispatch_uid="sharing.introductions.connection")
