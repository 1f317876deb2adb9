"""Writes of a support case, on either side: each one transaction that stores the case message and queues its
DIDComm message in didcomm's outbox (delivered by the task worker once it commits, retried on temporary
failures, its state on the OutboundMessage row the case message points at).

A peer running a plain Aries agent gets each message as an RFC 0095 basic message on the case's thread
(protocol.as_basic_message): a case starts in the Thingstead protocol and switches to basic messages when the peer
answers its first message with a problem report (support.receive), resending what it had sent.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.live import broadcast_after_commit
from didcomm import selectors as didcomm_selectors
from didcomm.models import Connection, OutboundMessage
from didcomm.outbox import outbound_enqueue
from makers.models import Membership, Organisation
from owners.models import Notification, Owner
from sharing.models import ConnectionSubject
from ssi import messages
from support import context as things_context
from support import protocol
from support.models import Case, CaseMessage
from twins.history import history_append
from twins.models import HistoryEntry, Twin

Kind = CaseMessage.Kind
Status = Case.Status

# The context kinds a party may ask for (protocol ASK ``asks``), in words.
ASKABLE = {
    "model": "the model",
    "serial": "the serial number",
    "firmware": "the firmware version",
    "readings": "recent readings",
    "photo": "a photo",
    "journal": "journal entries",
}


def now_text() -> str:
    return timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def case_path(case: Case) -> str:
    if case.side == Case.Side.PARTY:
        return reverse("org-support-case", args=[case.organisation.slug, case.public_id])
    return reverse("support-case", args=[case.public_id])


def push(case: Case) -> None:
    """Open pages of the case hear of it once this commits (static/support/support.js fetches the thread)."""
    event = {"kind": "support", "case": case.public_id}
    if case.side == Case.Side.OWNER:
        # The thing's own pages only while it is still the case owner's (a buyer's pages hear nothing of it).
        theirs = Twin.objects.filter(pk=case.twin_id, owner_id=case.owner_id)
        still_theirs = case.twin_id is not None and theirs.exists()
        broadcast_after_commit(owner_id=case.owner_id, twin_id=case.twin_id if still_theirs else None, event=event)
        return
    for owner_id in _party_people(case):
        broadcast_after_commit(owner_id=owner_id, event=event)


def _party_people(case: Case) -> list[int]:
    """Who on the party's side hears of the case: its assignee, else every member of the organisation."""
    if case.assignee_id is not None:
        return [case.assignee_id]
    return list(Membership.objects.filter(organisation=case.organisation).values_list("owner_id", flat=True)[:50])


def _sendable(case: Case) -> Connection:
    connection = (
        Connection.objects.select_for_update(of=("self",))
        .select_related("agent__twin")
        .filter(pk=case.connection_id)
        .first()
    )
    if connection is None:
        raise ValidationError("The connection this case went over is gone: nothing more can be sent on it.")
    refusal = didcomm_selectors.send_refusal(connection)
    if refusal:
        raise ValidationError(refusal)
    if case.side == Case.Side.OWNER and (case.twin is None or case.twin.owner_id != case.owner_id):
        raise ValidationError("This thing is no longer yours: the case is kept for you to read, and closed.")
    return connection


def _wire(case: Case, body: dict[str, Any]) -> dict[str, Any]:
    """What goes over the connection for ``body``: itself, or for a plain Aries peer its basic message."""
    if case.mode == Case.Mode.BASIC:
        return protocol.as_basic_message(body, thid=case.thread_id, sent_time=now_text())
    return body


def _send(case: Case, connection: Connection, body: dict[str, Any]) -> OutboundMessage:
    return outbound_enqueue(connection=connection, body=_wire(case, body))


def _store(case: Case, body: dict[str, Any], kind: str, *, by: Owner | None, label: str, **fields) -> CaseMessage:
    connection = _sendable(case)
    outbound = _send(case, connection, body)
    message = CaseMessage.objects.create(
        case=case,
        message_id=body["@id"],
        kind=kind,
        incoming=False,
        author=by,
        author_label=label,
        text=body.get("content", ""),
        outbound=outbound,
        **fields,
    )
    Case.objects.filter(pk=case.pk).update(updated_at=timezone.now())
    push(case)
    return message


def _text(text: str, *, required: bool = True) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ValidationError("Write a few words first.")
    if len(text) > protocol.MAX_TEXT:
        raise ValidationError(f"A message is at most {protocol.MAX_TEXT} characters.")
    return text


def history_record(case: Case, what: str, **extra: Any) -> None:
    """The owner's side commits each of its own steps to the thing's signed history, as a message entry (a kind
    the owner may remove before a sale): the case's thread, the step, the party, and the names of what went
    (never the data itself)."""
    if case.twin is None:
        return
    content = {"support": what, "case": case.thread_id, "with": case.peer_label, **extra}
    history_append(twin=case.twin, kind=HistoryEntry.Kind.MESSAGE, content=content)


# --- The owner's side ------------------------------------------------------------------------------------------


def help_connections(*, twin: Twin) -> list[Connection]:
    """The parties the owner can ask for help about ``twin``: the completed connections of the twin's agent, and
    of the owner's own agent where the connection is about this thing (an introduction made it, sharing's
    ConnectionSubject)."""
    own = ConnectionSubject.objects.filter(twin=twin, connection__agent__owner_id=twin.owner_id).values("connection_id")
    return list(
        Connection.objects.filter(state=Connection.State.COMPLETED)
        .filter(pk__in=Connection.objects.filter(agent__twin=twin).values("pk").union(own))
        .exclude(their_verkey="")
        .select_related("agent")
        .order_by("their_label", "id")
    )


@transaction.atomic
def case_open(
    *, owner: Owner, twin: Twin, connection_id: int, subject: str, text: str, keys: list[str], photo=None
) -> Case:
    """Open a case about the owner's ``twin`` with the party at the other end of ``connection_id`` (one of
    :func:`help_connections`), attaching exactly the ticked ``keys`` (support.context) and an optional photo.
    ValidationError in words for anything to correct; nothing is written then."""
    connection = next((c for c in help_connections(twin=twin) if c.pk == connection_id), None)
    if connection is None:
        raise ValidationError("Choose one of the parties this thing is connected to.")
    subject = (subject or "").strip()[: protocol.MAX_SUBJECT]
    text = _text(text)
    context, attachments = things_context.build(twin, keys)
    if photo is not None:
        attachments.append(things_context.upload_attachment(photo))
    body = messages.new_message(protocol.OPEN, subject=subject or text[:80], content=text, context=context)
    if attachments:
        body["~attach"] = attachments
    case = Case.objects.create(
        side=Case.Side.OWNER,
        thread_id=body["@id"],
        connection=connection,
        subject=body["subject"],
        owner=owner,
        twin=twin,
        peer_label=connection.their_label[:255],
        thing={k: v for k, v in context.items() if k in ("model", "serial", "firmware")},
    )
    _store(
        case,
        body,
        Kind.OPEN,
        by=owner,
        label=owner.get_full_name() or owner.username,
        context=context,
        attachments=attachments,
    )
    history_record(
        case, "opened", subject=case.subject, attached=[*keys, *(["a new photo"] if photo is not None else [])]
    )
    return case


def _owner_label(owner: Owner) -> str:
    return owner.get_full_name() or owner.username


@transaction.atomic
def owner_reply(*, case: Case, by: Owner, text: str, photo=None) -> CaseMessage:
    case = _locked(case)
    text = _text(text)
    attachments = [things_context.upload_attachment(photo)] if photo is not None else []
    body = messages.new_message(protocol.REPLY, content=text, **{"~thread": messages.thread(case.thread_id)})
    if attachments:
        body["~attach"] = attachments
    message = _store(case, body, Kind.REPLY, by=by, label=_owner_label(by), attachments=attachments)
    return message


@transaction.atomic
def owner_provide(*, case: Case, by: Owner, keys: list[str], text: str = "") -> CaseMessage:
    """Answer the party's ask by ticking more of the thing's context."""
    case = _locked(case)
    if not keys:
        raise ValidationError("Tick at least one thing to send, or decline.")
    _sendable(case)  # before reading the thing: it may be gone, or another owner's now
    context, attachments = things_context.build(case.twin, keys)
    body = messages.new_message(
        protocol.PROVIDE,
        content=_text(text, required=False),
        context=context,
        **{"~thread": messages.thread(case.thread_id)},
    )
    if attachments:
        body["~attach"] = attachments
    message = _store(case, body, Kind.PROVIDE, by=by, label=_owner_label(by), context=context, attachments=attachments)
    _answered(case)
    history_record(case, "sent more", attached=keys)
    return message


@transaction.atomic
def owner_decline(*, case: Case, by: Owner, text: str = "") -> CaseMessage:
    case = _locked(case)
    body = messages.new_message(
        protocol.DECLINE, content=_text(text, required=False), **{"~thread": messages.thread(case.thread_id)}
    )
    message = _store(case, body, Kind.DECLINE, by=by, label=_owner_label(by))
    _answered(case)
    history_record(case, "declined to send more")
    return message


# --- The party's side ------------------------------------------------------------------------------------------


def _member_label(by: Owner, organisation: Organisation) -> str:
    return f"{by.get_full_name() or by.username} ({organisation.name})"


@transaction.atomic
def party_reply(*, case: Case, by: Owner, text: str) -> CaseMessage:
    case = _locked(case)
    body = messages.new_message(protocol.REPLY, content=_text(text), **{"~thread": messages.thread(case.thread_id)})
    message = _store(case, body, Kind.REPLY, by=by, label=_member_label(by, case.organisation))
    return message


@transaction.atomic
def party_ask(*, case: Case, by: Owner, asks: list[str], text: str = "") -> CaseMessage:
    """Ask the owner for more of the thing's context (kinds of :data:`ASKABLE`); the case waits for them."""
    case = _locked(case)
    if case.status == Status.RESOLVED:
        raise ValidationError("The case is resolved: reopen it before asking for more.")
    asks = [a for a in dict.fromkeys(asks) if a in ASKABLE]
    if not asks:
        raise ValidationError("Tick what you would like the owner to send.")
    body = messages.new_message(
        protocol.ASK, content=_text(text, required=False), asks=asks, **{"~thread": messages.thread(case.thread_id)}
    )
    message = _store(case, body, Kind.ASK, by=by, label=_member_label(by, case.organisation), asks=asks)
    _set_status(case, Status.WAITING)
    return message


@transaction.atomic
def party_assign(*, case: Case, by: Owner, assignee_id: int | None) -> Case:
    """Put a member of the organisation on the case (or nobody); anyone else is refused."""
    case = _locked(case)
    if (
        assignee_id is not None
        and not Membership.objects.filter(organisation=case.organisation, owner_id=assignee_id).exists()
    ):
        raise ValidationError("Choose a member of the organisation.")
    case.assignee_id = assignee_id
    case.save(update_fields=["assignee", "updated_at"])
    push(case)
    return case


# --- Both sides ------------------------------------------------------------------------------------------------


def _locked(case: Case) -> Case:
    # Serializes two people acting on one case (two members replying, a close racing a reply).
    return Case.objects.select_for_update(of=("self",)).select_related("organisation", "twin").get(pk=case.pk)


def _answered(case: Case) -> None:
    """An ask answered: a waiting case is open again (a resolved one stays resolved: only a status message
    reopens a case, so both sides agree whatever order their messages cross in)."""
    if case.status == Status.WAITING:
        _set_status(case, Status.OPEN)


def _set_status(case: Case, status: str) -> None:
    if case.status != status:
        case.status = status
        case.save(update_fields=["status", "updated_at"])


@transaction.atomic
def case_status(*, case: Case, by: Owner, status: str, text: str = "") -> CaseMessage:
    """Close (resolved) or reopen (open) a case, from either side; the other side is told."""
    case = _locked(case)
    if status not in protocol.STATUSES:
        raise ValidationError("A case is resolved or open.")
    if (status == Status.RESOLVED) == (case.status == Status.RESOLVED):
        raise ValidationError(
            "The case is resolved already." if status == Status.RESOLVED else "The case is open already."
        )
    body = messages.new_message(
        protocol.STATUS,
        status=status,
        content=_text(text, required=False),
        **{"~thread": messages.thread(case.thread_id)},
    )
    label = _member_label(by, case.organisation) if case.side == Case.Side.PARTY else _owner_label(by)
    message = _store(case, body, Kind.STATUS, by=by, label=label, status=status)
    _set_status(case, status)
    if case.side == Case.Side.OWNER:
        history_record(case, "resolved" if status == Status.RESOLVED else "reopened")
    return message


@transaction.atomic
def case_mark_read(*, case: Case) -> int:
    """The viewer read the case: its unread incoming messages are marked read, and (Thingstead peers only) the
    peer gets a read receipt naming them. Nothing is sent when nothing was unread. Returns how many."""
    case = _locked(case)
    unread = list(case.messages.filter(incoming=True, read_at__isnull=True).values_list("pk", "message_id"))
    if not unread:
        return 0
    CaseMessage.objects.filter(pk__in=[pk for pk, _ in unread]).update(read_at=timezone.now())
    Notification.objects.filter(action_url=case_path(case), read_at__isnull=True).update(read_at=timezone.now())
    # A seller reading an old case sends nothing through the thing's agent, which serves its buyer now.
    sold = case.side == Case.Side.OWNER and (case.twin is None or case.twin.owner_id != case.owner_id)
    if case.mode == Case.Mode.THINGSTEAD and case.connection_id is not None and not sold:
        connection = Connection.objects.filter(pk=case.connection_id).first()
        if connection is not None and not didcomm_selectors.send_refusal(connection):
            body = messages.new_message(
                protocol.READ, read=[mid for _, mid in unread], **{"~thread": messages.thread(case.thread_id)}
            )
            outbound_enqueue(connection=connection, body=body)
    return len(unread)


def cases_close_on_transfer(*, twin_id: int, seller_id: int) -> int:
    """After the thing changed hands: the seller's unresolved cases about it are resolved (the seller keeps
    them to read), and each party hears so once, if the connection still takes messages. Returns how many."""
    closed = 0
    for case in Case.objects.filter(side=Case.Side.OWNER, twin_id=twin_id, owner_id=seller_id).exclude(
        status=Status.RESOLVED
    ):
        with transaction.atomic():
            case = _locked(case)
            if case.status == Status.RESOLVED:
                continue
            body = messages.new_message(
                protocol.STATUS,
                status=Status.RESOLVED,
                content="The owner passed this thing on: the case is closed.",
                **{"~thread": messages.thread(case.thread_id)},
            )
            connection = Connection.objects.filter(pk=case.connection_id).first()
            outbound = None
            if connection is not None and not didcomm_selectors.send_refusal(connection):
                outbound = _send(case, connection, body)
            CaseMessage.objects.create(
                case=case,
                message_id=body["@id"],
                kind=Kind.STATUS,
                incoming=False,
                author_label="Thingstead",
                text=body["content"],
                status=Status.RESOLVED,
                outbound=outbound,
            )
            _set_status(case, Status.RESOLVED)
            closed += 1
    return closed
