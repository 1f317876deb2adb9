"""Grants: what an owner lets one party (a DIDComm connection they control, or one of their webhook endpoints)
receive of a twin, until a date or until revoked. Nothing is shared by default.

Granting, changing and revoking are entries in the twin's signed history (kind ``grant``), written under the
twin's row lock in the same transaction as the grant. Revoking, a transfer of the twin (the buyer starts from
nothing) and its deactivation cancel at once everything not yet delivered under the grant (sharing.collect);
the delivery worker re-checks the grant before every attempt, so an expired grant sends nothing either.

A party may ask for a grant over DIDComm (``thingstead:grants/1.0/request``); the owner answers from the inbox
and the answer goes back as ``thingstead:grants/1.0/response`` on the request's thread.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from datetime import datetime
from typing import Any, overload

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core import netguard, vault
from core.errors import Conflict
from didcomm.dispatch import register_handler
from didcomm.handlers import Context
from didcomm.models import Connection, InboundMessage, OutboundMessage
from didcomm.outbox import outbound_enqueue
from owners.models import Notification, Owner
from owners.services import notify
from sharing import collect, selectors
from sharing import kinds as data_kinds
from sharing.models import Grant, WebhookEndpoint
from ssi import messages, webhooks
from twins import events
from twins.history import history_append, lock_twin
from twins.models import HistoryEntry, Twin
from twins.moving import history_open, revoked_while_leaving

Party = Connection | WebhookEndpoint


class NotYours(Conflict):
    message = "This thing is no longer yours: nothing was granted."


class GrantExists(Conflict):
    message = "This party already has a grant on this thing: change that grant instead."


class GrantEnded(Conflict):
    message = "This grant has ended (revoked or expired): make a new one."


class AlreadyAnswered(Conflict):
    message = "This request has already been answered."


_UNSET: Any = object()


# --- What the history says ------------------------------------------------------------------------------------


def _short_did(did: str) -> str:
    """A did:peer:4 long form is the short form plus the whole document; the short form names it."""
    if did.startswith("did:peer:4"):
        return ":".join(did.split(":")[:3])
    return did[:300]


def party_of(grant: Grant) -> Party:
    return grant.connection if grant.connection_id else grant.endpoint


def party_summary(party: Party) -> dict[str, str]:
    """How a grant's history entry names its party: the label and DID of a connection, the label and origin of a
    webhook endpoint (its path may hold a token of the receiver's, so it stays out)."""
    if isinstance(party, WebhookEndpoint):
        parts = urllib.parse.urlsplit(party.url)
        return {"type": "webhook", "label": party.label, "url": f"{parts.scheme}://{parts.netloc}"}
    return {"type": "didcomm", "label": party.their_label, "did": _short_did(party.their_did)}


def _entry(grant: Grant, action: str, reason: str = "") -> dict[str, Any]:
    content: dict[str, Any] = {
        "action": action,
        "grant": grant.pk,
        "party": party_summary(party_of(grant)),
        "kinds": list(grant.kinds),
        "until": grant.expires_at.isoformat() if grant.expires_at else None,
    }
    if reason:
        content["reason"] = reason
    return content


def _record(locked: Twin, grant: Grant, action: str, reason: str = "") -> None:
    history_append(
        twin=locked, kind=HistoryEntry.Kind.GRANT, content=_entry(grant, action, reason), ref_id=grant.pk, locked=True
    )


# --- Checks -----------------------------------------------------------------------------------------------------


def _clean_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    if not isinstance(expires_at, datetime) or timezone.is_naive(expires_at):
        raise ValidationError({"expires_at": "Give the end with a time zone, like 2027-01-31T00:00:00Z."})
    if expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The end of a grant must be in the future."})
    return expires_at


def _party_fields(party: Party, by: Owner) -> dict[str, Any]:
    """The grant's party columns, once the party is known to be one the owner controls and can receive."""
    if isinstance(party, WebhookEndpoint):
        if party.owner_id != by.pk:
            raise ValidationError({"endpoint": "No such webhook endpoint among yours."})
        if party.disabled_at is not None:
            raise ValidationError({"endpoint": "This webhook endpoint is disabled: enable it again first."})
        return {"connection": None, "endpoint": party}
    if isinstance(party, Connection):
        if not selectors.connection_list(viewer=by).filter(pk=party.pk).exists():
            raise ValidationError(
                {"connection": "No such connection among yours: choose a completed one of yours or your things'."}
            )
        return {"connection": party, "endpoint": None}
    raise ValidationError({"party": "Choose a connection or a webhook endpoint to share with."})


def _lock_owned(twin: Twin, by: Owner) -> Twin:
    locked = lock_twin(twin)
    if locked.owner_id != by.pk:
        raise NotYours(NotYours.message)
    if locked.deactivated_at is not None:
        raise Conflict("This thing is deactivated: it shares nothing any more.")
    return locked


# --- Grants -----------------------------------------------------------------------------------------------------


@overload
def grant_create(
    *, twin: Twin, party: Party, kinds: Sequence[str], expires_at: datetime | None = None, by: Owner
) -> Grant: ...
@overload
def grant_create(
    *, twins: Sequence[Twin], party: Party, kinds: Sequence[str], expires_at: datetime | None = None, by: Owner
) -> list[Grant]: ...


@transaction.atomic
def grant_create(
    *,
    twin: Twin | None = None,
    twins: Sequence[Twin] | None = None,
    party: Party,
    kinds: Sequence[str],
    expires_at: datetime | None = None,
    by: Owner,
) -> Grant | list[Grant]:
    """Let `party` receive `kinds` of `twin` (returns the grant), or of each of `twins` (one grant per twin,
    all or none; returns them), until `expires_at` or revocation. Each is an entry in its twin's history.

    Refused (nothing written): a thing not `by`'s (NotYours, 409), a party `by` does not control or that cannot
    receive, unknown kinds, a past expiry (ValidationError), a party that already has an active grant on one of
    the things (GrantExists, 409: change that grant)."""
    targets = [twin] if twin is not None else list(twins or [])
    if not targets:
        raise ValidationError({"twins": "Choose at least one thing to share."})
    cleaned = data_kinds.clean_kinds(kinds)
    expires_at = _clean_expiry(expires_at)
    fields = _party_fields(party, by)
    now = timezone.now()
    created: list[Grant] = []
    # Locks in primary-key order: two bulk grants over overlapping things cannot deadlock.
    for target in sorted({t.pk: t for t in targets}.values(), key=lambda t: t.pk):
        locked = _lock_owned(target, by)
        # Under the twin's lock, so two concurrent grants to one party cannot both pass.
        if Grant.objects.active(now).filter(twin=locked, **fields).exists():
            raise GrantExists(f"{locked.name} already shares with {selectors.party_label(party)}: change that grant.")
        grant = Grant.objects.create(twin=locked, kinds=cleaned, expires_at=expires_at, created_by=by, **fields)
        _record(locked, grant, "grant")
        created.append(grant)
    return created[0] if twin is not None else created


@transaction.atomic
def grant_update(
    *, grant: Grant, by: Owner, kinds: Sequence[str] | None = None, expires_at: datetime | None = _UNSET
) -> Grant:
    """Change an active grant's kinds and/or expiry (None: until revoked). What it no longer covers is dropped
    from its unsent items at once."""
    locked = _lock_owned(grant.twin, by)
    grant = Grant.objects.select_for_update().get(pk=grant.pk)
    if not selectors.is_active(grant):
        raise GrantEnded(GrantEnded.message)
    changed = []
    if kinds is not None:
        grant.kinds = data_kinds.clean_kinds(kinds)
        changed.append("kinds")
    if expires_at is not _UNSET:
        grant.expires_at = _clean_expiry(expires_at)
        changed.append("expires_at")
    if not changed:
        return grant
    grant.save(update_fields=[*changed, "updated_at"])
    collect.outbox_narrow(grant)
    _record(locked, grant, "change")
    return grant


def _end(grant: Grant, reason: str, now: datetime) -> None:
    grant.revoked_at = now
    grant.revoked_reason = reason
    grant.save(update_fields=["revoked_at", "revoked_reason", "updated_at"])
    collect.outbox_cancel([grant], reason=f"grant ended ({reason})")


@transaction.atomic
def grant_revoke(*, grant: Grant, by: Owner, reason: str = "owner") -> Grant:
    """End the grant now: nothing more is collected, its unsent items are cancelled in this transaction, and
    the history says so. Revoking an ended grant again changes nothing (a second tap is harmless)."""
    locked = lock_twin(grant.twin)
    if locked.owner_id != by.pk:
        raise NotYours("This thing is no longer yours.")
    grant = Grant.objects.select_for_update().get(pk=grant.pk)
    if grant.revoked_at is not None:
        return grant
    _end(grant, reason, timezone.now())
    if history_open(locked):
        _record(locked, grant, "revoke", reason)
    else:  # moved away or on its way: the grant ends here all the same, the history is closed here
        revoked_while_leaving(locked, "this grant")
    return grant


@transaction.atomic
def grants_revoke_party(*, party: Party, by: Owner, reason: str = "owner") -> int:
    """Revoke every grant `by` made to `party`, across their things; returns how many were still in force."""
    count = 0
    for grant in selectors.grants_of_party(viewer=by, party=party).filter(revoked_at__isnull=True).order_by("twin_id"):
        if grant.twin.owner_id == by.pk:
            grant_revoke(grant=grant, by=by, reason=reason)
            count += 1
    return count


def _end_all(twin_id: int, reason: str, *, record: bool) -> None:
    grants = list(
        Grant.objects.filter(twin_id=twin_id, revoked_at__isnull=True).select_related("connection", "endpoint")
    )
    if not grants:
        return
    now = timezone.now()
    locked = lock_twin(Twin(pk=twin_id))
    for grant in grants:
        was_active = selectors.is_active(grant, now)
        _end(grant, reason, now)
        if record and was_active and history_open(locked):
            _record(locked, grant, "revoke", reason)


def on_transferred(event: events.Transferred) -> None:
    """In the transfer's transaction: every grant of the twin ends and nothing the seller granted is sent any
    more; the buyer starts from nothing."""
    _end_all(event.twin_id, "transfer", record=True)


def on_deactivated(event: events.Deactivated) -> None:
    """In the deactivation's transaction: grants end, unsent items are cancelled (the history is closed by now,
    so no entry)."""
    _end_all(event.twin_id, "deactivated", record=False)


# --- Webhook endpoints ------------------------------------------------------------------------------------------


def webhook_url_clean(url: str) -> str:
    """A URL we may POST notifications to, or a ValidationError on ``url`` saying why not (SECURITY 40):
    https (plain http only where OUTBOUND_ALLOW_PRIVATE_ADDRESSES is on: tests, a laptop), no credentials in
    it, and a host that resolves to public addresses only."""
    url = (url or "").strip()
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValidationError({"url": "This is not a URL, like https://example.com/hooks/thingstead."}) from None
    if not parts.hostname or parts.scheme.lower() not in ("https", "http") or len(url) > 2000:
        raise ValidationError({"url": "Give a full https:// URL, like https://example.com/hooks/thingstead."})
    if parts.scheme.lower() != "https" and not netguard.private_allowed():
        raise ValidationError({"url": "Use https://: what is sent holds your things' data and must be encrypted."})
    if parts.username or parts.password:
        raise ValidationError({"url": "Leave user names and passwords out of the URL: requests are signed instead."})
    try:
        netguard.check_url(url)
    except netguard.BlockedAddress:
        raise ValidationError(
            {
                "url": "This address is inside a private network (private, loopback or link-local): notifications go "
                "to public internet addresses only."
            }
        ) from None
    except OSError:
        raise ValidationError(
            {"url": f"The host name {parts.hostname} does not resolve: check its spelling."}
        ) from None
    return url


@transaction.atomic
def webhook_endpoint_create(*, owner: Owner, label: str, url: str) -> tuple[WebhookEndpoint, str]:
    """A webhook endpoint and its Standard Webhooks secret, returned this once (stored sealed, never shown again:
    the receiver keeps it to verify our signatures)."""
    label = (label or "").strip()
    if not label or len(label) > 120:
        raise ValidationError({"label": "Name the endpoint (at most 120 characters), e.g. the party's name."})
    url = webhook_url_clean(url)
    secret = webhooks.new_secret()
    endpoint = WebhookEndpoint.objects.create(
        owner=owner, label=label, url=url, secret_sealed=vault.seal(secret.encode("ascii"))
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, by: Owner) -> None:
    """Revoke what was granted to the endpoint (entries in each thing's history), then delete it; its grants
    and their delivery log go with it."""
    if endpoint.owner_id != by.pk:
        raise ValidationError("No such webhook endpoint among yours.")
    grants_revoke_party(party=endpoint, by=by, reason="endpoint deleted")
    endpoint.delete()


@transaction.atomic
def webhook_endpoint_enable(*, endpoint: WebhookEndpoint, by: Owner) -> WebhookEndpoint:
    """Take a disabled endpoint (a 410 from its receiver) back into use: deliveries to it resume."""
    if endpoint.owner_id != by.pk:
        raise ValidationError("No such webhook endpoint among yours.")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(disabled_at=None, disabled_reason="")
    endpoint.disabled_at, endpoint.disabled_reason = None, ""
    return endpoint


# --- Requests over DIDComm --------------------------------------------------------------------------------------


def request_receive(ctx: Context) -> dict[str, Any] | None:
    """``thingstead:grants/1.0/request``: a party asks for a grant. A request over a connection that has no
    business with the thing (not the thing's own agent's, nor its owner's), or a malformed one, is answered
    with a problem report and creates nothing; otherwise the owner finds it in the inbox, to answer."""
    try:
        request = selectors.request_parse(ctx.message)
    except selectors.RequestProblem as problem:
        return messages.problem_report(thid=ctx.message.message_id, code=problem.code, explanation=str(problem))
    twin = request.twin
    party = request.connection.their_label or "A connection"
    until = f" until {request.until:%Y-%m-%d}" if request.until else ""
    notify(
        owner=twin.owner,
        kind=Notification.Kind.REQUEST,
        title=f"{party[:80]} asks for {', '.join(request.kinds)[:60]} of {twin.name[:40]}{until}",
        body=request.reason,
        twin=twin,
        sender_name=party[:100],
        action_url=reverse("sharing-request", args=[ctx.message.pk]),
        action_label="Answer",
    )
    return None


@transaction.atomic
def request_answer(
    *,
    message: InboundMessage,
    by: Owner,
    approve: bool,
    kinds: Sequence[str] = (),
    expires_at: datetime | None = None,
) -> Grant | None:
    """Answer a grant request: approve (for the kinds asked, or fewer; an existing grant to the party on the
    thing is widened) or decline. The response goes back on the request's thread once this commits."""
    message = (
        InboundMessage.objects.select_for_update(of=("self",)).select_related("connection__agent").get(pk=message.pk)
    )
    request = selectors.request_parse(message)
    if request.twin.owner_id != by.pk:
        raise NotYours("This thing is no longer yours.")
    if selectors.request_answer(message) is not None:
        raise AlreadyAnswered(AlreadyAnswered.message)
    grant = None
    if approve:
        chosen = data_kinds.clean_kinds(kinds)
        extra = [kind for kind in chosen if kind not in request.kinds]
        if extra:
            raise ValidationError({"kinds": f"Only what was asked for can be granted here, not {', '.join(extra)}."})
        existing = Grant.objects.active(timezone.now()).filter(twin=request.twin, connection=request.connection).first()
        if existing is not None:
            merged = [*existing.kinds, *(kind for kind in chosen if kind not in existing.kinds)]
            grant = grant_update(grant=existing, by=by, kinds=merged, expires_at=expires_at)
        else:
            grant = grant_create(
                twin=request.twin, party=request.connection, kinds=chosen, expires_at=expires_at, by=by
            )
    body = messages.new_message(
        selectors.RESPONSE,
        approved=approve,
        kinds=list(grant.kinds) if grant else [],
        until=grant.expires_at.isoformat().replace("+00:00", "Z") if grant and grant.expires_at else None,
        **{"~thread": messages.thread(message.message_id)},
    )
    outbound = outbound_enqueue(connection=request.connection, body=body)
    # The reply is tied to the request, so the answer page (and a second answer) can tell it was answered.
    OutboundMessage.objects.filter(pk=outbound.pk).update(in_reply_to=message)
    Notification.objects.filter(
        owner=by, kind=Notification.Kind.REQUEST, action_url=reverse("sharing-request", args=[message.pk])
    ).update(read_at=timezone.now())
    return grant


# --- Wiring -----------------------------------------------------------------------------------------------------


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready)."""
    from core.nav import OWNER, NavLink, register_nav
    from twins import panels

    # In the event's transaction: the outbox item commits, or rolls back, with what it reports.
    events.subscribe(events.ReadingsStored, collect.on_readings_stored, in_transaction=True)
    events.subscribe(events.ScanRecorded, collect.on_scan_recorded, in_transaction=True)
    events.subscribe(events.JournalChanged, collect.on_journal_changed, in_transaction=True)
    events.subscribe(events.Transferred, on_transferred, in_transaction=True)
    events.subscribe(events.Deactivated, on_deactivated, in_transaction=True)
    register_handler(selectors.REQUEST, request_receive)
    panels.register_panel(
        panels.Panel("sharing", "sharing/_panel_sharing.html", panels.AFTER_PUBLIC, 40, selectors.sharing_panel)
    )
    panels.register_link(panels.Link("Sharing", "thing-sharing", panels.HEADER, 60))
    register_nav(NavLink("Sharing", "sharing", OWNER, 60))
