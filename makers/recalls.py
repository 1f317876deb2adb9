"""Recalls: a manufacturer's public notice that some of its things are unsafe, and how it reaches their owners.

A recall names a product model and which of its things it covers: all of them, a list of serials, or a range
(``serial_from``..``serial_to``, inclusive). A range whose two ends are both digits is **numeric**: it covers the
serials made of digits only whose value lies between (``7``, ``007`` and ``0007`` are the same number). Any other
range is **lexical**: it covers the serials of the same length as its ends that sort between them, byte by byte
(ASCII order: digits before capitals before small letters), so ``A100..A199`` covers ``A150`` but not ``A1500``.
:func:`recall_covers` (one serial, in Python) and :func:`affected_things` (the rows, in SQL) say the same.

Issuing it (:func:`recall_issue`) is one transaction: the row, and the fan-out task enqueued once it commits.
The fan-out (:func:`recall_fan_out`, run by the task worker) is set-based: an ``INSERT ... SELECT`` of one
RecallNotice per affected thing held by someone other than the organisation, an ``INSERT ... SELECT`` of one
inbox item per notice, one email task per few hundred owners (one email per owner per recall, however many of
their things it covers), and a DIDComm notice on every completed connection of the organisation's agent that is
about an affected thing (sharing.models.ConnectionSubject). It can run again at any point: the unique
(recall, twin) constraint (inbox items are made only for the notices a run adds), the email marker and the
notices' deterministic ``@id`` make a second run add nothing.

Privacy: the organisation learns counts of the owners who are not connected to it, never who they are; a
connected owner is named (by the connection's label) only once they acknowledged (makers.dashboard).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, mailers
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Collate, Length, LPad
from django.tasks import task
from django.urls import reverse
from django.utils import timezone

from didcomm.dispatch import register_handler
from didcomm.handlers import Context
from didcomm.models import Agent, Connection, InboundMessage, OutboundMessage, RecipientKey
from didcomm.outbox import outbound_enqueue
from makers import gs1
from makers.models import Organisation, ProducedThing, ProductModel, Recall, RecallNotice
from owners.models import Notification, Owner
from sharing.models import ConnectionSubject
from ssi import messages
from tags.models import Tag
from tags.public_cache import forget_tags
from twins import panels
from twins.models import Twin

logger = logging.getLogger(__name__)

# Message type keys (README "Thingstead message types").
NOTICE = "thingstead:recall/1.0/notice"
ACK = "thingstead:recall/1.0/ack"
NOTICE_TYPE = messages.message_type_uri(NOTICE)
ACK_TYPE = messages.message_type_uri(ACK)

DIGITS_RE = re.compile(r"^[0-9]+$")
MAX_SERIALS = 10_000  # a longer list is a range (or several recalls)
# Owners per email task: one SMTP connection sends a chunk's emails.
EMAIL_CHUNK = 200
# Names the deterministic @id of a recall notice (the same on a re-run, so it is sent once).
_NOTICE_NS = uuid.UUID("8f7b8f54-2f0b-4b55-9a57-5f0f3c7a1d21")


# --- Which things a recall covers ------------------------------------------------------------------------------


def gtin14(value: str) -> str:
    """A GTIN-8/12/13/14 as 14 digits, its GS1 check digit verified (makers.gs1); ValidationError saying what is
    wrong."""
    try:
        return gs1.normalise_gtin(value)
    except gs1.GS1Error as exc:
        raise ValidationError({"gtin": str(exc)}) from None


def is_serial(value: str) -> bool:
    try:
        gs1.check_serial(value)
    except gs1.GS1Error:
        return False
    return True


def is_numeric_range(serial_from: str, serial_to: str) -> bool:
    return bool(DIGITS_RE.match(serial_from) and DIGITS_RE.match(serial_to))


def recall_covers(recall: Recall, serial: str) -> bool:
    """Whether the recall covers a thing of its model with this serial (the module docstring's rules)."""
    if recall.serials:
        return serial in recall.serials
    if recall.serial_from or recall.serial_to:
        if is_numeric_range(recall.serial_from, recall.serial_to):
            return bool(DIGITS_RE.match(serial)) and int(recall.serial_from) <= int(serial) <= int(recall.serial_to)
        return (
            len(serial) == len(recall.serial_from)
            and recall.serial_from.encode() <= serial.encode() <= recall.serial_to.encode()
        )
    return True


def _bytewise(expression):
    # PostgreSQL compares text by the database's locale ("a" < "B"); the "C" collation compares bytes, as SQLite
    # does by default and as recall_covers does.
    return Collate(expression, "C") if db_connection.vendor == "postgresql" else expression


def serial_filter(qs: QuerySet, recall: Recall, field: str = "serial") -> QuerySet:
    """`qs` narrowed to the rows whose `field` the recall covers (in SQL; see recall_covers)."""
    if recall.serials:
        return qs.filter(**{f"{field}__in": list(recall.serials)})
    if not (recall.serial_from or recall.serial_to):
        return qs
    if is_numeric_range(recall.serial_from, recall.serial_to):
        # Zero-padded to the longest serial: equal-length digit strings compare as their numbers do.
        return (
            qs.filter(**{f"{field}__regex": r"^[0-9]+$"})
            .alias(_recall_padded=_bytewise(LPad(field, 20, Value("0"))))
            .filter(_recall_padded__gte=recall.serial_from.zfill(20), _recall_padded__lte=recall.serial_to.zfill(20))
        )
    return (
        qs.alias(_recall_len=Length(field), _recall_text=_bytewise(F(field)))
        .filter(_recall_len=len(recall.serial_from))
        .filter(_recall_text__gte=recall.serial_from, _recall_text__lte=recall.serial_to)
    )


def affected_things(recall: Recall) -> QuerySet[ProducedThing]:
    """The produced things the recall covers (held by anyone, the organisation included)."""
    return serial_filter(ProducedThing.objects.filter(model_id=recall.model_id), recall)


# --- Reads ---------------------------------------------------------------------------------------------------


def recalls_for(model: ProductModel, *, serial: str | None = None) -> list[Recall]:
    """The recalls of `model` (those covering `serial` when given), newest first: what the model page, a twin's
    pages and the resolver's gs1:recallStatus show. A recall is public from the moment it is issued."""
    recalls = list(Recall.objects.filter(model=model).select_related("organisation", "model"))
    if serial is not None:
        recalls = [recall for recall in recalls if recall_covers(recall, serial)]
    return recalls


def recalls_for_twin(twin: Twin) -> list[Recall]:
    """The recalls covering a produced twin (none for a twin no organisation produced)."""
    produced = ProducedThing.objects.select_related("model").filter(twin_id=twin.pk).first()
    if produced is None:
        return []
    return recalls_for(produced.model, serial=produced.serial)


def recall_get_public(*, recall_id: int) -> Recall:
    from django.http import Http404

    recall = Recall.objects.select_related("organisation", "model").filter(pk=recall_id).first()
    if recall is None:
        raise Http404("No such recall.")
    return recall


def recall_get_for_organisation(*, organisation: Organisation, recall_id: int) -> Recall:
    """One of the organisation's recalls; another organisation's (or none) is a 404."""
    from django.http import Http404

    recall = Recall.objects.select_related("model", "organisation").filter(pk=recall_id, organisation=organisation)
    found = recall.first()
    if found is None:
        raise Http404("No such recall.")
    return found


def recall_list_for_organisation(*, organisation: Organisation) -> QuerySet[Recall]:
    return Recall.objects.filter(organisation=organisation).select_related("model")


def recall_scope_text(recall: Recall) -> str:
    """Which things, in words (for pages, emails and inbox items)."""
    if recall.serials:
        shown = ", ".join(recall.serials[:10])
        more = f" and {len(recall.serials) - 10} more" if len(recall.serials) > 10 else ""
        return f"serial numbers {shown}{more}"
    if recall.serial_from or recall.serial_to:
        return f"serial numbers {recall.serial_from} to {recall.serial_to}"
    return "every unit"


def my_notices(*, owner: Owner, recall: Recall) -> QuerySet[RecallNotice]:
    """The viewer's own notices of a recall (their affected things), for the recall page's acknowledge button."""
    if not owner.is_authenticated:
        return RecallNotice.objects.none()
    return RecallNotice.objects.filter(recall=recall, owner=owner, twin__owner=owner).select_related("twin")


# --- Issuing --------------------------------------------------------------------------------------------------


def _clean_serials(serials: Iterable[str] | None) -> list[str]:
    cleaned: list[str] = []
    seen: set[str] = set()
    for raw in serials or []:
        if not isinstance(raw, str):
            raise ValidationError({"serials": "Each serial is text."})
        serial = raw.strip()
        if not serial:
            continue
        try:
            gs1.check_serial(serial)
        except gs1.GS1Error as exc:
            raise ValidationError({"serials": f"{serial[:40]!r} is not a GS1 serial. {exc}"}) from None
        if serial not in seen:
            seen.add(serial)
            cleaned.append(serial)
    if len(cleaned) > MAX_SERIALS:
        raise ValidationError({"serials": f"At most {MAX_SERIALS} serials in one recall: give a range instead."})
    return cleaned


def _clean_range(serial_from: str, serial_to: str) -> tuple[str, str]:
    serial_from, serial_to = (serial_from or "").strip(), (serial_to or "").strip()
    if not serial_from and not serial_to:
        return "", ""
    if not serial_from or not serial_to:
        raise ValidationError({"serial_to" if serial_from else "serial_from": "A range needs both ends."})
    for name, value in (("serial_from", serial_from), ("serial_to", serial_to)):
        try:
            gs1.check_serial(value)
        except gs1.GS1Error as exc:
            raise ValidationError({name: str(exc)}) from None
    if is_numeric_range(serial_from, serial_to):
        if int(serial_from) > int(serial_to):
            raise ValidationError({"serial_from": f"The range starts after it ends ({serial_from} > {serial_to})."})
    else:
        if len(serial_from) != len(serial_to):
            raise ValidationError(
                {"serial_to": "Both ends of a range of serials that are not all digits have the same length."}
            )
        if serial_from.encode() > serial_to.encode():
            raise ValidationError({"serial_from": f"The range starts after it ends ({serial_from} > {serial_to})."})
    return serial_from, serial_to


@transaction.atomic
def recall_issue(
    *,
    organisation: Organisation,
    by: Owner | None,
    gtin: str,
    title: str,
    text: str,
    severity: str = Recall.Severity.WARNING,
    link: str = "",
    serials: list[str] | None = None,
    serial_from: str = "",
    serial_to: str = "",
) -> Recall:
    """Issue a recall of the organisation's model `gtin`: for all its things (no serials, no range), a list of
    serials, or a range. ValidationError (per field) for anything a person must correct; nothing is written then.
    The fan-out runs in the task worker once this commits."""
    model = ProductModel.objects.filter(organisation=organisation, gtin=gtin14(gtin)).first()
    if model is None:
        raise ValidationError({"gtin": f"{organisation.name} has no product model with GTIN {gtin}."})
    serial_list = _clean_serials(serials)
    serial_from, serial_to = _clean_range(serial_from, serial_to)
    if serial_list and serial_from:
        raise ValidationError({"serials": "Give a list of serials or a range, not both."})
    if serials is not None and not serial_list and not serial_from:
        # An explicit empty list is a mistake (a blank upload), not "every unit": say so rather than recall all.
        raise ValidationError({"serials": "The list of serials is empty; give serials, a range, or neither for all."})
    link = (link or "").strip()
    if link and not link.lower().startswith("https://"):
        raise ValidationError({"link": "The link must be an https:// address."})
    if severity not in Recall.Severity.values:
        raise ValidationError({"severity": f"Severity is one of {', '.join(Recall.Severity.values)}."})
    recall = Recall(
        organisation=organisation,
        model=model,
        title=(title or "").strip(),
        text=(text or "").strip(),
        severity=severity,
        link=link,
        serials=serial_list,
        serial_from=serial_from,
        serial_to=serial_to,
        created_by=by if by is not None and by.pk != organisation.account_id else None,
    )
    recall.full_clean(exclude=["organisation", "model", "created_by"])
    recall.save()
    recall_id = recall.pk
    transaction.on_commit(lambda: recall_fan_out_task.enqueue(recall_id))
    return recall


# --- Fan-out -------------------------------------------------------------------------------------------------


def recall_page_path(recall_id: int) -> str:
    return reverse("recall", args=[recall_id])


def _notification_title(recall: Recall) -> str:
    return f"Recall: {recall.title}"[:200]


def _notification_body(recall: Recall) -> str:
    parts = [f"{recall.organisation.name} recalls {recall.model.name} ({recall_scope_text(recall)}).", recall.text]
    if recall.link:
        parts.append(recall.link)
    return "\n\n".join(parts)[:4000]


@task()
def recall_fan_out_task(recall_id: int) -> int:
    """The worker's entry point (enqueued when the recall commits; safe to run again)."""
    return recall_fan_out(recall_id)


def recall_fan_out(recall_id: int) -> int:
    """Reach every current owner of the recall's things: notices, inbox items, emails, DIDComm notices. Returns
    how many things were affected. One transaction; a crash rolls it all back and a re-run starts clean, and a
    re-run after a complete one adds nothing."""
    with transaction.atomic():
        recall = (
            Recall.objects.select_for_update(of=("self",))
            .select_related("organisation", "model")
            .filter(pk=recall_id)
            .first()
        )
        if recall is None:
            return 0
        now = timezone.now()
        account_id = recall.organisation.account_id
        affected = affected_things(recall)
        count = affected.count()
        _insert_notices(recall, affected, account_id, now)
        _insert_notifications(recall, now)
        owner_ids = _owners_to_email(recall)
        for start in range(0, len(owner_ids), EMAIL_CHUNK):
            chunk = owner_ids[start : start + EMAIL_CHUNK]
            transaction.on_commit(lambda chunk=chunk: recall_emails_send.enqueue(recall_id, chunk))
        _send_didcomm_notices(recall, affected)
        transaction.on_commit(lambda: _forget_public_pages(recall))
        Recall.objects.filter(pk=recall.pk).update(affected=count, fanned_out_at=now)
    return count


def _forget_public_pages(recall: Recall) -> None:
    """Drop the cached finder's pages of the affected things' tags, so the banner shows on the next scan rather
    than when the cached page expires (tags.public_cache)."""
    tokens = Tag.objects.filter(twin_id__in=affected_things(recall).values("twin_id")).values_list("token", flat=True)
    chunk: list[str] = []
    for token in tokens.iterator(chunk_size=2000):
        chunk.append(token)
        if len(chunk) == 2000:
            forget_tags(chunk)
            chunk = []
    forget_tags(chunk)


def _insert_notices(recall: Recall, affected: QuerySet[ProducedThing], account_id: int, now) -> None:
    """One RecallNotice per affected thing whose current owner is not the organisation (unclaimed things have
    nobody to tell) and that lives here, in one INSERT ... SELECT; ON CONFLICT skips the ones a previous run made.

    A thing that moved to another host (or is still arriving here) gets none (issue 18): its owner is reached
    there, by the DIDComm notice on the organisation's connection about it (:func:`_send_didcomm_notices`), which
    rotated to the new host with the thing; a notice here as well would tell the owner's old account twice."""
    select_sql, select_params = (
        affected.exclude(twin__owner_id=account_id)
        .filter(twin__moved_to="", twin__arriving=False)
        .annotate(notice_twin=F("twin_id"), notice_owner=F("twin__owner_id"))
        .values_list("notice_twin", "notice_owner")
        .query.sql_with_params()
    )
    table = RecallNotice._meta.db_table
    sql = (
        f"INSERT INTO {table} (recall_id, twin_id, owner_id, created_at) "  # noqa: S608 (our table, our SQL)
        f"SELECT %s, a.notice_twin, a.notice_owner, %s FROM ({select_sql}) a WHERE 1 = 1 "
        "ON CONFLICT (recall_id, twin_id) DO NOTHING"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [recall.pk, now, *select_params])


def _insert_notifications(recall: Recall, now) -> None:
    """One inbox item (kind recall, the twin set, its button to the recall page) per notice this run made: those
    stamped with this run's `now` (runs of one recall are serialized by the row lock; the previous run's notices
    have their items already, in the same transaction that made them). No anti-join against the inbox: on
    PostgreSQL, one planned with young statistics rescans the index it is inserting into, once per row."""
    path = recall_page_path(recall.pk)
    notification = Notification._meta.db_table
    notice = RecallNotice._meta.db_table
    sql = (
        f"INSERT INTO {notification} (owner_id, twin_id, kind, title, body, sender_name, sender_contact, "  # noqa: S608
        "action_url, action_label, count, created_at, updated_at, read_at, emailed_at) "
        f"SELECT n.owner_id, n.twin_id, %s, %s, %s, %s, '', %s, %s, 1, %s, %s, NULL, NULL FROM {notice} n "
        "WHERE n.recall_id = %s AND n.created_at = %s"
    )
    params = [
        Notification.Kind.RECALL,
        _notification_title(recall),
        _notification_body(recall),
        recall.organisation.name[:100],
        path,
        "Read the recall",
        now,
        now,
        recall.pk,
        now,
    ]
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)


def _recall_items(recall_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(kind=Notification.Kind.RECALL, action_url=recall_page_path(recall_id))


def _owners_to_email(recall: Recall) -> list[int]:
    """Owners (with an address) whose recall email has not gone out: none of their items of it is marked."""
    emailed = _recall_items(recall.pk).filter(emailed_at__isnull=False).values("owner_id")
    return list(
        _recall_items(recall.pk)
        .exclude(owner__email="")
        .exclude(owner_id__in=emailed)
        .order_by("owner_id")
        .values_list("owner_id", flat=True)
        .distinct()
    )


@task()
def recall_emails_send(recall_id: int, owner_ids: list[int]) -> int:
    """One email per owner of `owner_ids` about the recall, listing all their affected things, over one mail
    connection; then every item of the recall of those owners is marked emailed.

    The same at-least-once rule as owners.tasks.send_notification_email: an owner whose items are marked gets
    nothing on a re-run; a crash between the send and the mark sends again with the same Message-ID."""
    recall = Recall.objects.select_related("organisation", "model").filter(pk=recall_id).first()
    if recall is None:
        return 0
    items = (
        _recall_items(recall_id)
        .filter(owner_id__in=owner_ids, emailed_at__isnull=True)
        .exclude(owner__email="")
        .select_related("owner", "twin")
        .order_by("owner_id", "id")
    )
    things: dict[int, list[Notification]] = {}
    for item in items:
        things.setdefault(item.owner_id, []).append(item)
    already = set(
        _recall_items(recall_id)
        .filter(owner_id__in=list(things), emailed_at__isnull=False)
        .values_list("owner_id", flat=True)
    )
    emails = []
    for owner_id, owned in things.items():
        if owner_id in already:
            continue
        names = ", ".join(item.twin.name for item in owned if item.twin is not None)
        body = "\n".join(
            [
                f"{recall.organisation.name} has issued a recall that covers your {names or recall.model.name}.",
                "",
                recall.title,
                "",
                recall.text,
                "",
                *([f"More: {recall.link}"] if recall.link else []),
                f"Read it and acknowledge it: {settings.SITE_URL}{recall_page_path(recall.pk)}",
            ]
        )
        emails.append(
            EmailMessage(
                subject=f"[Thingstead] {_notification_title(recall)}",
                body=body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[owned[0].owner.email],
                headers={"Message-ID": _email_message_id(recall, owner_id)},
            )
        )
    if not emails:
        return 0
    mailers["default"].send_messages(emails)
    sent_to = [owner_id for owner_id in things if owner_id not in already]
    _recall_items(recall_id).filter(owner_id__in=sent_to, emailed_at__isnull=True).update(emailed_at=timezone.now())
    return len(emails)


def _email_message_id(recall: Recall, owner_id: int) -> str:
    from urllib.parse import urlsplit

    domain = urlsplit(settings.SITE_URL).hostname or "thingstead.localhost"
    return f"<recall-{recall.pk}.{owner_id}.{int(recall.created_at.timestamp())}@{domain}>"


# --- DIDComm: the organisation's side ------------------------------------------------------------------------


def organisation_agent(organisation: Organisation) -> Agent | None:
    """The organisation's agent if it has one (reads never make one)."""
    return Agent.objects.filter(owner_id=organisation.account_id).first()


def connected_subjects(recall: Recall, affected: QuerySet[ProducedThing] | None = None) -> list[ConnectionSubject]:
    """The subjects of the organisation agent's completed connections that are about a thing the recall covers:
    a local twin among the affected, or (for things on other instances) the model's GTIN and a covered serial."""
    agent = organisation_agent(recall.organisation)
    if agent is None:
        return []
    affected = affected if affected is not None else affected_things(recall)
    mine = ConnectionSubject.objects.filter(
        connection__agent=agent, connection__state=Connection.State.COMPLETED
    ).select_related("connection")
    local = list(mine.filter(twin_id__in=affected.values("twin_id")))
    seen = {subject.pk for subject in local}
    remote = [
        subject
        for subject in serial_filter(mine.filter(gtin=recall.model.gtin).exclude(serial=""), recall)
        if subject.pk not in seen
    ]
    return local + remote


def notice_body(recall: Recall, subject: ConnectionSubject) -> dict[str, Any]:
    """The thingstead:recall/1.0/notice for one thing on one connection; its @id is the same on every run."""
    scope: dict[str, Any]
    if recall.serials:
        scope = {"serials": list(recall.serials)}
    elif recall.serial_from:
        scope = {"range": {"from": recall.serial_from, "to": recall.serial_to}}
    else:
        scope = {"all": True}
    body = messages.new_message(
        NOTICE,
        recall=str(recall.pk),
        gtin=recall.model.gtin,
        **scope,
        title=recall.title,
        text=recall.text,
        severity=recall.severity,
        link=recall.link,
        thing=subject.thing_did,
        issuer=recall.organisation.name,
    )
    if subject.serial:
        body["serial"] = subject.serial
    body["@id"] = str(
        uuid.uuid5(_NOTICE_NS, f"{settings.SITE_URL}/{recall.pk}/{subject.connection_id}/{subject.thing_did}")
    )
    return body


def _send_didcomm_notices(recall: Recall, affected: QuerySet[ProducedThing]) -> int:
    sent = 0
    for subject in connected_subjects(recall, affected):
        body = notice_body(recall, subject)
        if OutboundMessage.objects.filter(connection_id=subject.connection_id, message_id=body["@id"]).exists():
            continue
        outbound_enqueue(connection=subject.connection, body=body)
        sent += 1
    return sent


def notices_sent(recall: Recall) -> QuerySet[OutboundMessage]:
    """The DIDComm notices of the recall the organisation's agent queued (one per connection and thing)."""
    return OutboundMessage.objects.filter(
        agent__owner_id=recall.organisation.account_id, type=NOTICE_TYPE, body__recall=str(recall.pk)
    )


def acknowledgements(recall: Recall) -> list[dict[str, Any]]:
    """The connected owners who acknowledged the recall over DIDComm: the connection's label, the thing's DID as
    the notice named it, and when. (Acknowledgements are the acks received on the notices' threads; see
    recall_ack_receive.)"""
    sent = {row.message_id: row for row in notices_sent(recall).select_related("connection")}
    if not sent:
        return []
    acks = InboundMessage.objects.filter(
        agent__owner_id=recall.organisation.account_id,
        type=ACK_TYPE,
        connection_id__in={row.connection_id for row in sent.values()},
    ).order_by("received_at", "id")
    found: dict[str, dict[str, Any]] = {}
    for ack in acks:
        thid, _ = messages.thread_of(ack.body)
        notice = sent.get(thid or "")
        if notice is None or notice.connection_id != ack.connection_id or thid in found:
            continue
        found[thid] = {
            "label": notice.connection.their_label if notice.connection else "",
            "thing": notice.body.get("thing", ""),
            "acknowledged_at": ack.received_at,
        }
    return list(found.values())


def recall_ack_receive(ctx: Context) -> dict[str, Any] | None:
    """The manufacturer's side: an owner acknowledged our notice (its ``~thread.thid``). The ack is kept (the
    InboundMessage, once per @id); a local thing's RecallNotice gets its acknowledged_at."""
    thid, _ = messages.thread_of(ctx.body)
    notice = None
    if ctx.connection is not None and thid:
        notice = OutboundMessage.objects.filter(connection=ctx.connection, message_id=thid, type=NOTICE_TYPE).first()
    if notice is None:
        return messages.problem_report(
            thid=ctx.message.message_id, code="unknown-notice", explanation="this ack answers no recall notice of ours"
        )
    recall_id = str(notice.body.get("recall", ""))
    thing = notice.body.get("thing", "")
    if recall_id.isdigit() and thing:
        RecallNotice.objects.filter(recall_id=int(recall_id), twin__did=thing, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now()
        )
    return None


# --- DIDComm: the owner's side -------------------------------------------------------------------------------


def _owner_of_agent(agent: Agent) -> Owner:
    return agent.owner if agent.owner_id is not None else agent.twin.owner


def _text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def recall_notice_receive(ctx: Context) -> dict[str, Any] | None:
    """An owner's agent (or a twin's) received a manufacturer's recall notice: it goes to the owner's inbox with
    an Acknowledge button (recall_received page). When the notice comes from an agent on this very instance, the
    owner has the recall's inbox item already (the local fan-out): that item gets the button instead of a second
    item and a second email."""
    body = ctx.body
    title = _text(body, "title", 200).strip()
    if ctx.connection is None or not title or not isinstance(body.get("recall"), str):
        return messages.problem_report(
            thid=ctx.message.message_id,
            code="invalid-message",
            explanation="a recall notice needs a connection, a recall id and a title",
        )
    agent = ctx.message.agent
    owner = _owner_of_agent(agent)
    thing = _text(body, "thing", 300)
    twin = agent.twin if agent.twin_id is not None else None
    if twin is None and thing:
        twin = Twin.objects.filter(did=thing, owner=owner).first()
    action = reverse("recall-received", args=[ctx.message.pk])
    local_peer = RecipientKey.objects.filter(verkey=ctx.connection.their_verkey).exists()
    if local_peer and body["recall"].isdigit():
        merged = Notification.objects.filter(
            owner=owner, kind=Notification.Kind.RECALL, action_url=recall_page_path(int(body["recall"]))
        )
        if twin is not None:
            merged = merged.filter(twin=twin)
        if merged.update(action_url=action, action_label="Acknowledge", updated_at=timezone.now()):
            return None
    from owners.services import notify

    text = _text(body, "text", 3000)
    link = _text(body, "link", 500)
    notify(
        owner=owner,
        kind=Notification.Kind.RECALL,
        title=f"Recall: {title}"[:200],
        body="\n\n".join(part for part in (text, link if link.startswith("https://") else "") if part),
        twin=twin,
        sender_name=(ctx.connection.their_label or _text(body, "issuer", 100))[:100],
        email=not local_peer,
        action_url=action,
        action_label="Acknowledge",
    )
    return None


def received_notice_get(*, viewer: Owner, inbound_id: int) -> InboundMessage:
    """A recall notice one of the viewer's agents (their own, or one of their twins') received; else 404."""
    from django.http import Http404

    inbound = (
        InboundMessage.objects.select_related("connection", "agent__owner", "agent__twin")
        .filter(pk=inbound_id, type=NOTICE_TYPE)
        .filter(Q(agent__owner_id=viewer.pk) | Q(agent__twin__owner_id=viewer.pk))
        .first()
        if viewer.is_authenticated
        else None
    )
    if inbound is None:
        raise Http404("No such recall notice.")
    return inbound


def _ack_id(notice_id: str) -> str:
    return str(uuid.uuid5(_NOTICE_NS, f"ack/{notice_id}"))


def received_notice_acknowledged(inbound: InboundMessage) -> bool:
    return OutboundMessage.objects.filter(
        connection_id=inbound.connection_id, message_id=_ack_id(inbound.message_id)
    ).exists()


@transaction.atomic
def recall_notice_acknowledge(*, viewer: Owner, inbound_id: int) -> InboundMessage:
    """Acknowledge a received recall notice: a thingstead:recall/1.0/ack on its thread, over the connection it
    came on; acknowledging again sends nothing more. 404 for a notice not the viewer's."""
    inbound = received_notice_get(viewer=viewer, inbound_id=inbound_id)
    connection = Connection.objects.select_for_update().filter(pk=inbound.connection_id).first()
    if connection is None or connection.state != Connection.State.COMPLETED:
        raise ValidationError("The connection this recall came on is gone; it cannot be acknowledged over it.")
    if not received_notice_acknowledged(inbound):
        body = messages.new_message(ACK, **{"~thread": messages.thread(inbound.message_id)})
        body["@id"] = _ack_id(inbound.message_id)
        outbound_enqueue(connection=connection, body=body)
    Notification.objects.filter(
        kind=Notification.Kind.RECALL, action_url=reverse("recall-received", args=[inbound.pk])
    ).update(read_at=timezone.now())
    return inbound


@transaction.atomic
def recall_acknowledge_local(*, viewer: Owner, recall: Recall) -> int:
    """A local owner acknowledges a recall from its page: their notices of it get acknowledged_at (the
    manufacturer counts them, and learns no more). Returns how many things it covered."""
    now = timezone.now()
    done = my_notices(owner=viewer, recall=recall).filter(acknowledged_at__isnull=True).update(acknowledged_at=now)
    _recall_items(recall.pk).filter(owner=viewer, read_at__isnull=True).update(read_at=now)
    return done


# --- Panels and wiring ---------------------------------------------------------------------------------------


def recall_panel_context(request, twin) -> dict[str, Any]:
    return {"twin_recalls": recalls_for_twin(twin)}


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready): the two DIDComm message types, and the
    recall banner on a produced twin's private page and public page."""
    register_handler(NOTICE, recall_notice_receive)
    register_handler(ACK, recall_ack_receive)
    panels.register_panel(
        panels.Panel(
            key="makers-recall-banner",
            template="makers/recall_banner.html",
            slot=panels.AFTER_JOURNAL,
            order=0,
            context=recall_panel_context,
        )
    )
    panels.register_public_panel(
        panels.Panel(
            key="makers-recall-banner",
            template="makers/recall_banner.html",
            slot=panels.PUBLIC,
            order=0,
            context=recall_panel_context,
        )
    )
