"""Reads of the sharing pages and API, each scoped to the viewer: another owner's grant, endpoint, connection or
request is a 404 like one that does not exist (never a 403)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone

from didcomm.models import Connection, InboundMessage
from owners.models import Owner
from sharing import kinds as data_kinds
from sharing.models import Grant, OutboxItem, WebhookEndpoint
from ssi import messages
from twins.models import Twin

# Thingstead's grant protocol (README "Thingstead message types").
REQUEST = "thingstead:grants/1.0/request"
RESPONSE = "thingstead:grants/1.0/response"

MAX_REASON = 1000


def _authenticated(viewer: Any) -> bool:
    return bool(getattr(viewer, "is_authenticated", False))


# --- Parties --------------------------------------------------------------------------------------------------


def connection_list(*, viewer: Owner) -> QuerySet[Connection]:
    """Every completed DIDComm connection the viewer controls: their own agent's and their things' agents'."""
    if not _authenticated(viewer):
        return Connection.objects.none()
    return (
        Connection.objects.filter(state=Connection.State.COMPLETED)
        .filter(Q(agent__owner=viewer) | Q(agent__twin__owner=viewer))
        .select_related("agent__twin")
        .order_by("their_label", "id")
    )


def connection_get(*, viewer: Owner, connection_id: int) -> Connection:
    """One connection the viewer controls, of any state (a removed one still has its grants and log)."""
    if not _authenticated(viewer):
        raise Http404("No such connection.")
    qs = Connection.objects.filter(Q(agent__owner=viewer) | Q(agent__twin__owner=viewer)).select_related("agent__twin")
    return get_object_or_404(qs, pk=connection_id)


def endpoint_list(*, viewer: Owner) -> QuerySet[WebhookEndpoint]:
    if not _authenticated(viewer):
        return WebhookEndpoint.objects.none()
    return WebhookEndpoint.objects.filter(owner=viewer).order_by("label", "id")


def endpoint_get(*, viewer: Owner, endpoint_id: int) -> WebhookEndpoint:
    if not _authenticated(viewer):
        raise Http404("No such webhook endpoint.")
    return get_object_or_404(WebhookEndpoint, pk=endpoint_id, owner=viewer)


def party_label(grant_or_party: Grant | Connection | WebhookEndpoint) -> str:
    if isinstance(grant_or_party, Grant):
        party = grant_or_party.connection if grant_or_party.connection_id else grant_or_party.endpoint
    else:
        party = grant_or_party
    if isinstance(party, WebhookEndpoint):
        return f"{party.label} (webhook)"
    return party.their_label or "DIDComm connection"


# --- Grants -----------------------------------------------------------------------------------------------------


def grant_list(*, twin: Twin) -> QuerySet[Grant]:
    """Every grant of one (already access-checked) twin by its current owner, ended ones too, newest first. A
    seller's grants (all ended by the transfer) are not the buyer's to read."""
    return Grant.objects.filter(twin=twin, created_by_id=twin.owner_id).select_related("connection", "endpoint")


def grant_get(*, viewer: Owner, grant_id: int, for_update: bool = False) -> Grant:
    """One grant the viewer made on a thing they own now (after a transfer, neither side reads the seller's)."""
    if not _authenticated(viewer):
        raise Http404("No such grant.")
    qs = Grant.objects.filter(twin__owner=viewer, created_by=viewer).select_related("twin", "connection", "endpoint")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=grant_id)


def grants_of_party(*, viewer: Owner, party: Connection | WebhookEndpoint) -> QuerySet[Grant]:
    field = "connection" if isinstance(party, Connection) else "endpoint"
    return Grant.objects.filter(twin__owner=viewer, created_by=viewer, **{field: party}).select_related(
        "twin", "connection", "endpoint"
    )


def is_active(grant: Grant, at: datetime | None = None) -> bool:
    at = at or timezone.now()
    return grant.revoked_at is None and (grant.expires_at is None or grant.expires_at > at)


@dataclass(frozen=True)
class GrantRow:
    """A grant as the pages show it."""

    grant: Grant
    party: str
    kinds: list[str]
    active: bool
    ended: str  # "revoked (owner)", "expired", ""


def grant_rows(grants: QuerySet[Grant] | list[Grant]) -> list[GrantRow]:
    at = timezone.now()
    rows = []
    for grant in grants:
        active = is_active(grant, at)
        if grant.revoked_at is not None:
            ended = f"ended {grant.revoked_at:%Y-%m-%d %H:%M} ({grant.revoked_reason or 'owner'})"
        elif not active:
            ended = f"expired {grant.expires_at:%Y-%m-%d %H:%M}"
        else:
            ended = ""
        rows.append(GrantRow(grant, party_label(grant), [data_kinds.label(k) for k in grant.kinds], active, ended))
    return rows


def sharing_panel(request: HttpRequest, twin: Twin) -> dict[str, Any]:
    """The Sharing panel of a thing's private page: what is granted to whom now, and until when."""
    grants = (
        Grant.objects.active(timezone.now())
        .filter(twin=twin, created_by_id=twin.owner_id)
        .select_related("connection", "endpoint")
    )
    return {"sharing_grants": grant_rows(list(grants))}


def parties_overview(*, viewer: Owner) -> list[dict[str, Any]]:
    """Each party the viewer shares with (or could), with how many things it has active grants on."""
    at = timezone.now()
    active = Q(grants__revoked_at__isnull=True) & (Q(grants__expires_at__isnull=True) | Q(grants__expires_at__gt=at))
    rows = []
    for connection in connection_list(viewer=viewer).annotate(active=Count("grants", filter=active)):
        rows.append(
            {"kind": "connection", "id": connection.pk, "label": party_label(connection), "active": connection.active}
        )
    for endpoint in endpoint_list(viewer=viewer).annotate(active=Count("grants", filter=active)):
        rows.append({"kind": "endpoint", "id": endpoint.pk, "label": party_label(endpoint), "active": endpoint.active})
    return rows


# --- The delivery log -------------------------------------------------------------------------------------------


def delivery_list(
    *, viewer: Owner, twin: Twin | None = None, party: Connection | WebhookEndpoint | None = None
) -> QuerySet[OutboxItem]:
    """What was sent (or is waiting, failed, was cancelled) under the viewer's grants, newest first; of one
    thing, one party, or both."""
    if not _authenticated(viewer):
        return OutboxItem.objects.none()
    qs = OutboxItem.objects.filter(grant__twin__owner=viewer, grant__created_by=viewer)
    if twin is not None:
        qs = qs.filter(twin=twin)
    if isinstance(party, Connection):
        qs = qs.filter(grant__connection=party)
    elif isinstance(party, WebhookEndpoint):
        qs = qs.filter(grant__endpoint=party)
    return qs.select_related("grant__connection", "grant__endpoint", "twin").defer("payload")


# --- Requests for a grant (DIDComm) -----------------------------------------------------------------------------


class RequestProblem(Exception):
    """A grant request that cannot be taken: ``code`` and ``str(exc)`` go into the RFC 0035 problem report."""

    def __init__(self, code: str, explanation: str) -> None:
        super().__init__(explanation)
        self.code = code


@dataclass(frozen=True)
class GrantRequest:
    message: InboundMessage
    connection: Connection
    twin: Twin
    kinds: list[str]
    until: datetime | None
    reason: str


def has_business_with(connection: Connection, twin: Twin) -> bool:
    """Whether the connection may speak about `twin`: it is the twin's own agent's, or its owner's agent's."""
    agent = connection.agent
    return agent.twin_id == twin.pk or (agent.owner_id is not None and agent.owner_id == twin.owner_id)


def request_parse(message: InboundMessage) -> GrantRequest:
    """A received grant request, checked: a completed connection, a thing that connection has business with (an
    unknown DID and someone else's thing read the same), known kinds, a future `until`. Raises RequestProblem."""
    connection = message.connection
    if connection is None or connection.state != Connection.State.COMPLETED:
        raise RequestProblem("no-connection", "a grant is asked for over a completed connection")
    body = message.body
    thing, kinds, until, reason = body.get("thing"), body.get("kinds"), body.get("until"), body.get("reason", "")
    if not isinstance(thing, str) or not thing:
        raise RequestProblem("invalid-message", "thing: the DID of the thing the grant is for")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise RequestProblem("invalid-message", f"reason: text of at most {MAX_REASON} characters")
    try:
        cleaned = data_kinds.clean_kinds(kinds)
    except Exception as exc:  # ValidationError: its message says what is accepted
        text = "; ".join(getattr(exc, "messages", [str(exc)]))
        raise RequestProblem("invalid-message", f"kinds: {text}") from None
    expires = None
    if until is not None:
        try:
            expires = datetime.fromisoformat(until) if isinstance(until, str) else None
        except ValueError:
            expires = None
        if expires is None or timezone.is_naive(expires):
            raise RequestProblem("invalid-message", "until: an ISO 8601 time with a zone, like 2027-01-31T00:00:00Z")
        if expires <= timezone.now():
            raise RequestProblem("invalid-message", "until: a time in the future")
    twin = Twin.objects.filter(did=thing).select_related("owner").first()
    if twin is None or twin.deactivated_at is not None or not has_business_with(connection, twin):
        raise RequestProblem("unknown-thing", "no thing this connection may ask about has that DID")
    return GrantRequest(message, connection, twin, cleaned, expires, reason)


def request_get(*, viewer: Owner, message_id: int) -> GrantRequest:
    """A grant request about one of the viewer's things; anything else (someone else's, not a request) is 404."""
    if not _authenticated(viewer):
        raise Http404("No such request.")
    message = (
        InboundMessage.objects.filter(pk=message_id, connection__isnull=False)
        .select_related("connection__agent")
        .first()
    )
    if message is None or messages.message_type_key(message.type) != REQUEST:
        raise Http404("No such request.")
    try:
        request = request_parse(message)
    except RequestProblem:
        raise Http404("No such request.") from None
    if request.twin.owner_id != viewer.pk:
        raise Http404("No such request.")
    return request


def request_answer(message: InboundMessage) -> dict[str, Any] | None:
    """The response already sent to a grant request (its body), or None while it waits for the owner."""
    reply = message.replies.filter(type=messages.message_type_uri(RESPONSE)).first()
    return reply.body if reply is not None else None
