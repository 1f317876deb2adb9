"""Receiving a case's messages, on either side (registered with didcomm.dispatch from support.apps).

Every handler runs inside didcomm.inbound's receipt transaction, after the InboundMessage row is stored once per
``@id`` (a redelivery is never dispatched again, and the (case, message_id) constraint backs that up here).
What a message refuses is answered with an RFC 0035 problem report on its thread, and writes nothing.

Plain Aries agents (RFC 0095): a basic message on a case's connection lands in that case when its
``~thread.thid`` names it, or, without a thread (ACA-Py's admin API sends none), in the connection's latest
unresolved case that runs on basic messages. A problem report answering our first message of a case (the peer
does not know our protocol: ACA-Py says ``message-parse-failure``) switches the case to basic messages and sends
again what it had sent. Both hook the stored InboundMessage (a post_save, like sharing's hook on connections):
didcomm's own handlers for those two types stay as they are.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q
from django.utils import timezone

from didcomm.handlers import Context
from didcomm.models import InboundMessage
from didcomm.outbox import outbound_enqueue
from makers.models import Membership, Organisation, ProductModel
from owners.models import Notification
from owners.services import notify
from sharing.models import ConnectionSubject
from ssi import messages
from support import protocol
from support.models import Case, CaseMessage
from support.services import case_path, cases_close_on_transfer, history_record, now_text, push
from twins import events

logger = logging.getLogger(__name__)

Kind = CaseMessage.Kind
# Which types each side takes once the case exists.
OWNER_TAKES = {protocol.REPLY: Kind.REPLY, protocol.ASK: Kind.ASK, protocol.STATUS: Kind.STATUS}
PARTY_TAKES = {
    protocol.REPLY: Kind.REPLY,
    protocol.PROVIDE: Kind.PROVIDE,
    protocol.DECLINE: Kind.DECLINE,
    protocol.STATUS: Kind.STATUS,
}
# RFC 0035's problem report, under the name ACA-Py sends it by (notification/1.0) as well.
PROBLEM_REPORTS = frozenset({messages.PROBLEM_REPORT, messages.NOTIFICATION_PROBLEM_REPORT})
# Problem report codes that say the peer's agent does not speak our protocol.
NOT_UNDERSTOOD = frozenset({"message-parse-failure", "unsupported-message-type", "unrecognized-message-type"})


def _refuse(ctx: Context, code: str, explanation: str) -> dict[str, Any]:
    return messages.problem_report(thid=ctx.message.message_id, code=code, explanation=explanation)


def support_receive(ctx: Context) -> dict[str, Any] | None:
    """Every support/1.0 message type (protocol.TYPES)."""
    key = messages.message_type_key(ctx.message.type)
    if ctx.connection is None:
        return _refuse(ctx, "no-connection", "support cases travel over a connection only")
    try:
        fields = protocol.parse(key, ctx.body)
    except protocol.ProtocolError as exc:
        return _refuse(ctx, "invalid-message", str(exc))
    if key == protocol.OPEN:
        return _open_receive(ctx, fields)
    case = (
        Case.objects.select_related("organisation", "twin", "owner")
        .filter(connection=ctx.connection, thread_id=fields["thid"])
        .first()
    )
    if case is None:
        return _refuse(ctx, "unknown-case", "no support case of ours has this thread")
    if key == protocol.READ:
        # Only what we sent, once: a receipt naming anything else changes nothing.
        done = CaseMessage.objects.filter(
            case=case, incoming=False, message_id__in=fields["read"], read_at__isnull=True
        ).update(read_at=timezone.now())
        if done:
            push(case)
        return None
    takes = OWNER_TAKES if case.side == Case.Side.OWNER else PARTY_TAKES
    kind = takes.get(key)
    if kind is None:
        return _refuse(ctx, "not-expected", f"the {case.side}'s side of a case takes no {key.rsplit('/', 1)[-1]}")
    _land(case, ctx.message, kind, fields)
    return None


def _open_receive(ctx: Context, fields: dict[str, Any]) -> dict[str, Any] | None:
    agent = ctx.message.agent
    organisation = Organisation.objects.filter(account_id=agent.owner_id).first() if agent.owner_id else None
    if organisation is None:
        return _refuse(ctx, "no-support", "this agent takes no support cases: it is not an organisation's")
    context = fields["context"]
    model = None
    gtin = (context.get("model") or {}).get("gtin")
    if gtin:
        model = ProductModel.objects.filter(organisation=organisation, gtin=gtin).first()
    if model is None:
        subject = ConnectionSubject.objects.filter(connection=ctx.connection).exclude(gtin="").first()
        if subject is not None:
            model = ProductModel.objects.filter(organisation=organisation, gtin=subject.gtin).first()
    case, created = Case.objects.get_or_create(
        connection=ctx.connection,
        side=Case.Side.PARTY,
        thread_id=fields["thid"],
        defaults={
            "subject": fields["subject"][:200],
            "organisation": organisation,
            "model": model,
            "peer_label": ctx.connection.their_label[:255],
            "thing": {k: v for k, v in context.items() if k in ("model", "serial", "firmware")},
        },
    )
    if created:
        _land(case, ctx.message, Kind.OPEN, fields)
    return None


def _label(case: Case) -> str:
    return case.peer_label or "the other side"


def _land(case: Case, inbound: InboundMessage, kind: str, fields: dict[str, Any]) -> CaseMessage | None:
    """Store a received message in its case (once per @id), move the case's status, and tell its people."""
    message, created = CaseMessage.objects.get_or_create(
        case=case,
        message_id=inbound.message_id,
        defaults={
            "kind": kind,
            "incoming": True,
            "author_label": _label(case),
            "text": fields.get("content", ""),
            "context": fields.get("context", {}),
            "attachments": fields.get("attachments", []),
            "asks": fields.get("asks", []),
            "status": fields.get("status", ""),
            "inbound": inbound,
        },
    )
    if not created:
        return None
    # Only a status message moves a case out of resolved or back into it; an ask or its answer moves an
    # unresolved case between waiting and open (so both sides agree whatever order messages cross in).
    status = case.status
    if kind == Kind.STATUS:
        status = fields["status"]
    elif kind == Kind.ASK and status != Case.Status.RESOLVED:
        status = Case.Status.WAITING
    elif kind in (Kind.PROVIDE, Kind.DECLINE) and status == Case.Status.WAITING:
        status = Case.Status.OPEN
    Case.objects.filter(pk=case.pk).update(status=status, updated_at=timezone.now())
    case.status = status
    _tell(case, message)
    push(case)
    return message


def _unread_about(owner, case: Case) -> bool:
    """Whether `owner` has an unread inbox item about this case already: then a new one is not emailed (a party
    sending many messages cannot flood a person's mailbox; the inbox keeps each)."""
    return Notification.objects.filter(owner=owner, action_url=case_path(case), read_at__isnull=True).exists()


def _tell(case: Case, message: CaseMessage) -> None:
    words = {
        Kind.OPEN: "opened a support case",
        Kind.REPLY: "replied",
        Kind.ASK: "asks for more about",
        Kind.PROVIDE: "sent more",
        Kind.DECLINE: "declined to send more",
        Kind.STATUS: "resolved" if message.status == Case.Status.RESOLVED else "reopened",
    }[message.kind]
    title = f"{_label(case)} {words}: {case.subject}"[:200]
    body = message.text[:4000]
    if case.side == Case.Side.OWNER:
        if case.twin is not None and (case.connection is None or case.connection.agent.twin_id is None):
            # didcomm.timeline records what a twin's own agent receives; a case on the owner's agent is ours to.
            history_record(case, f"received {message.kind}", id=message.message_id)
        notify(
            owner=case.owner,
            kind=Notification.Kind.AGENT,
            title=title,
            body=body,
            twin=case.twin if case.twin is not None and case.twin.owner_id == case.owner_id else None,
            sender_name=_label(case)[:100],
            email=not _unread_about(case.owner, case),
            action_url=case_path(case),
            action_label="Open the case",
        )
        return
    people = (
        [case.assignee]
        if case.assignee is not None
        else [
            membership.owner
            for membership in Membership.objects.filter(organisation=case.organisation).select_related("owner")[:50]
        ]
    )
    for person in people:
        notify(
            owner=person,
            kind=Notification.Kind.AGENT,
            title=title,
            body=body,
            sender_name=_label(case)[:100],
            email=case.assignee is not None and not _unread_about(person, case),
            action_url=case_path(case),
            action_label="Open the case",
        )


# --- Plain Aries agents ----------------------------------------------------------------------------------------


def _case_for_basic(inbound: InboundMessage) -> Case | None:
    thid, _ = messages.thread_of(inbound.body)
    cases = Case.objects.select_related("organisation", "twin", "owner", "connection__agent").filter(
        connection=inbound.connection
    )
    if thid:
        found = cases.filter(thread_id=thid).first()
        if found is not None:
            return found
    return (
        cases.filter(mode=Case.Mode.BASIC).exclude(status=Case.Status.RESOLVED).order_by("-updated_at", "-id").first()
    )


def _on_basic_message(inbound: InboundMessage) -> None:
    content = inbound.body.get("content")
    if not isinstance(content, str) or inbound.connection_id is None:
        return
    case = _case_for_basic(inbound)
    if case is None:
        return
    try:
        attachments = protocol.check_attachments(inbound.body.get("~attach"))
    except protocol.ProtocolError:
        attachments = []  # a basic message is taken for its text; attachments we cannot read stay out
    _land(case, inbound, Kind.REPLY, {"content": content[: protocol.MAX_TEXT], "attachments": attachments})


def _problem_code(body: dict[str, Any]) -> str:
    description = body.get("description")
    code = description.get("code") if isinstance(description, dict) else None
    return code if isinstance(code, str) else ""


def _on_problem_report(inbound: InboundMessage) -> None:
    thid, _ = messages.thread_of(inbound.body)
    if not thid or inbound.connection_id is None:
        return
    sent = CaseMessage.objects.filter(case__connection=inbound.connection, incoming=False, message_id=thid)
    case = (
        Case.objects.select_related("organisation", "twin", "owner", "connection__agent")
        .filter(connection=inbound.connection)
        .filter(Q(thread_id=thid) | Q(pk__in=sent.values("case_id")))
        .first()
    )
    if case is None:
        return
    code = _problem_code(inbound.body)
    description = inbound.body.get("description")
    text = description.get("en", "") if isinstance(description, dict) else ""
    CaseMessage.objects.get_or_create(
        case=case,
        message_id=inbound.message_id,
        defaults={
            "kind": Kind.PROBLEM,
            "incoming": True,
            "author_label": _label(case),
            "text": ": ".join(part for part in (code, text if isinstance(text, str) else "") if part)[:2000],
            "inbound": inbound,
            "read_at": timezone.now(),
        },
    )
    heard = case.messages.filter(incoming=True).exclude(kind=Kind.PROBLEM).exists()
    if case.mode == Case.Mode.THINGSTEAD and code in NOT_UNDERSTOOD and not heard:
        _switch_to_basic(case)
    push(case)


def _switch_to_basic(case: Case) -> None:
    """The peer runs a plain Aries agent: the case goes on in basic messages, and what we had sent goes again
    as basic messages (each a fresh @id: the peer has seen the first ones, if only to refuse them)."""
    Case.objects.filter(pk=case.pk).update(mode=Case.Mode.BASIC, updated_at=timezone.now())
    case.mode = Case.Mode.BASIC
    connection = case.connection
    for message in case.messages.filter(incoming=False).select_related("outbound").order_by("created_at", "id"):
        if message.outbound is None or messages.message_type_key(message.outbound.type) not in protocol.TYPES:
            continue
        basic = protocol.as_basic_message(message.outbound.body, thid=case.thread_id, sent_time=now_text())
        message.outbound = outbound_enqueue(connection=connection, body=basic)
        message.save(update_fields=["outbound"])
    logger.info("support case %s goes on in basic messages: its peer does not speak support/1.0", case.pk)


def on_inbound_saved(sender, instance: InboundMessage, created: bool, **kwargs) -> None:
    """post_save of didcomm's InboundMessage (in the receipt's transaction, before dispatch)."""
    if not created or instance.connection_id is None:
        return
    key = messages.message_type_key(instance.type)
    if key == messages.BASIC_MESSAGE:
        _on_basic_message(instance)
    elif key in PROBLEM_REPORTS:
        _on_problem_report(instance)


def on_transferred(event: events.Transferred) -> None:
    """The twins.events subscriber: a sold thing's open cases are closed (support.services)."""
    cases_close_on_transfer(twin_id=event.twin_id, seller_id=event.seller_id)
