"""The sharing part of a moving twin (issue 18): its grants, their outbox and delivery log, its introductions.

- Grants keep their kinds, expiry and revocation. A grant over a webhook endpoint takes the endpoint along: an
  endpoint is its owner's, so the destination owner gets a copy (label, URL, state and the Standard Webhooks
  secret, which travels unsealed in the package and is sealed here again), or their own endpoint with the same URL
  and the same secret when they already have it (a second thing of theirs moving). A grant over a DIDComm
  connection takes the twin agent's connection the "didcomm" part restored (``arrival.lookup``); a grant over a
  connection of the owner's own agent stays behind with that agent (the owner's agent does not move), and so does
  its outbox.
- The outbox travels whole, delivered and failed items included (it is the delivery log), with the same
  ``message_id``s: a receiver that already has a message dedupes it. What was not yet delivered (collecting,
  pending, or being sent by a worker of the source) waits here, pending and held (``next_attempt_at`` at
  :data:`HELD`), until the twin is live here (twins.events.TwinArrived), then goes out from here. On the source,
  the release (twins.events.TwinMovedAway, in its transaction) cancels what was still waiting there, so each
  notification goes out from one host; one a source worker was sending at that moment may reach its receiver
  twice, with the same message id.
- A copied endpoint's URL is checked as at creation (sharing.grants.webhook_url_clean, SECURITY 40: https, no
  credentials in it, public addresses only): the package comes from another instance, which may be hostile, and
  the URL is where this instance would POST the twin's data. One that fails is restored DISABLED, its reason
  saying why ("Disabled on arrival: ..."), rather than refusing the whole move: the thing, its grants and its
  delivery log still arrive, nothing is sent there, and the owner sees the reason and can fix the endpoint.
- Introductions keep their thread ids; the party's connection is the twin agent's (restored by "didcomm").

Not moved: the connection subjects and received notifications of organisations' agents (they are the
organisation's records, not the twin's).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core import vault
from sharing.grants import webhook_url_clean
from sharing.models import Grant, Introduction, OutboxItem, WebhookEndpoint
from twins import events
from twins.models import HistoryEntry, Twin
from twins.portability import Arrival, PackageError, Part, register

CONNECTION = "didcomm.Connection"
# The retry time of a notification that arrived with its twin and waits for the twin to be live here: never due
# before on_arrived sets it to now (the worker takes PENDING items whose next_attempt_at has come).
HELD = datetime(9999, 12, 31, tzinfo=UTC)
_WAITING = (OutboxItem.Status.OPEN, OutboxItem.Status.PENDING, OutboxItem.Status.SENDING)
# The most notifications waiting to be sent that a package brings to be sent from here.
MAX_HELD = 100

_OUTBOX_FIELDS = (
    "kind",
    "payload",
    "count",
    "status",
    "attempts",
    "last_status_code",
    "last_error",
)
_OUTBOX_TIMES = ("created_at", "window_ends_at", "next_attempt_at", "delivered_at")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.pk,
        "label": endpoint.label,
        "url": endpoint.url,
        "secret": base64.b64encode(vault.unseal(endpoint.secret_sealed)).decode(),
        "created_at": _iso(endpoint.created_at),
        "disabled_at": _iso(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
    }


def export(twin: Twin) -> dict[str, Any] | None:
    # Only the current owner's (review finding 9): a sale leaves the seller's grants on the thing, ended, with
    # their outbox and her webhook endpoints (her receiver's URL and the secret it trusts); those are hers, as
    # sharing.selectors.grant_list says, and must not travel with a buyer's move.
    grants = list(
        Grant.objects.filter(
            Q(endpoint__isnull=True) | Q(endpoint__owner_id=twin.owner_id), twin=twin, created_by_id=twin.owner_id
        )
        .select_related("endpoint")
        .order_by("created_at", "id")
    )
    introductions = list(Introduction.objects.filter(twin=twin, owner_id=twin.owner_id).order_by("created_at", "id"))
    if not grants and not introductions:
        return None
    endpoints: dict[int, dict[str, Any]] = {}
    out_grants = []
    for grant in grants:
        if grant.endpoint is not None and grant.endpoint_id not in endpoints:
            endpoints[grant.endpoint_id] = _endpoint(grant.endpoint)
        out_grants.append(
            {
                "id": grant.pk,
                "connection": grant.connection_id,
                "endpoint": grant.endpoint_id,
                "kinds": grant.kinds,
                "expires_at": _iso(grant.expires_at),
                "revoked_at": _iso(grant.revoked_at),
                "revoked_reason": grant.revoked_reason,
                "by_owner": grant.created_by_id == twin.owner_id,
                "created_at": _iso(grant.created_at),
                "updated_at": _iso(grant.updated_at),
            }
        )
    outbox = [
        {
            "grant": item.grant_id,
            "message_id": str(item.message_id),
            **{name: getattr(item, name) for name in _OUTBOX_FIELDS},
            **{name: _iso(getattr(item, name)) for name in _OUTBOX_TIMES},
        }
        for item in OutboxItem.objects.filter(twin=twin, grant_id__in=[grant.pk for grant in grants]).order_by(
            "created_at", "id"
        )
    ]
    out_introductions = [
        {
            "party_connection": intro.party_connection_id,
            "owner_connection": intro.owner_connection_id,
            "party_label": intro.party_label,
            "asks_for": intro.asks_for,
            "message": intro.message,
            "thread_id": intro.thread_id,
            "state": intro.state,
            "invitation": intro.invitation,
            "thing_gtin": intro.thing_gtin,
            "thing_serial": intro.thing_serial,
            "created_at": _iso(intro.created_at),
            "decided_at": _iso(intro.decided_at),
        }
        for intro in introductions
    ]
    return {
        "endpoints": list(endpoints.values()),
        "grants": out_grants,
        "outbox": outbox,
        "introductions": out_introductions,
    }


def _url_refusal(url: Any) -> str:
    """Why this instance would not create an endpoint with ``url`` ("" when it would)."""
    if not isinstance(url, str):
        raise PackageError("A webhook endpoint of this thing in the package has no URL.")
    try:
        webhook_url_clean(url)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return ""


def _endpoint_here(data: dict[str, Any], arrival: Arrival) -> WebhookEndpoint:
    """The destination owner's endpoint with this URL and secret, or a copy of the source's."""
    secret = base64.b64decode(data["secret"])
    for mine in WebhookEndpoint.objects.filter(owner=arrival.owner, url=data["url"]):
        if vault.unseal(mine.secret_sealed) == secret:
            return mine
    disabled_at, disabled_reason = _when(data["disabled_at"]), data["disabled_reason"]
    refusal = _url_refusal(data["url"])
    if refusal:
        disabled_at, disabled_reason = timezone.now(), f"Disabled on arrival: {refusal}"[:200]
    endpoint = WebhookEndpoint.objects.create(
        owner=arrival.owner,
        label=data["label"],
        url=data["url"],
        secret_sealed=vault.seal(secret),
        disabled_at=disabled_at,
        disabled_reason=disabled_reason,
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(created_at=_when(data["created_at"]))
    return endpoint


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    twin = arrival.twin
    endpoints = {item["id"]: _endpoint_here(item, arrival) for item in data.get("endpoints") or []}
    grants: dict[int, Grant] = {}
    for item in data.get("grants") or []:
        endpoint = endpoints.get(item["endpoint"]) if item["endpoint"] is not None else None
        connection = arrival.lookup(CONNECTION, item["connection"])
        if item["endpoint"] is not None and endpoint is None:
            raise PackageError("A grant of this thing names a webhook endpoint that is not in the package.")
        if endpoint is None and connection is None:
            continue  # over the owner's own agent, which stays where it is (see the module docstring)
        grant = Grant.objects.create(
            twin=twin,
            connection=connection if endpoint is None else None,
            endpoint=endpoint,
            kinds=item["kinds"],
            expires_at=_when(item["expires_at"]),
            revoked_at=_when(item["revoked_at"]),
            revoked_reason=item["revoked_reason"],
            created_by=arrival.owner if item["by_owner"] else None,
        )
        Grant.objects.filter(pk=grant.pk).update(
            created_at=_when(item["created_at"]), updated_at=_when(item["updated_at"])
        )
        grants[item["id"]] = grant
        # The grant's history entries point at it (twins.parts maps ref_id through this).
        arrival.remember(f"history.{HistoryEntry.Kind.GRANT}", item["id"], grant)
    items, created = [], []
    held = 0
    for item in data.get("outbox") or []:
        grant = grants.get(item["grant"])
        if grant is None:
            continue  # its grant stayed behind
        fields = {name: item[name] for name in _OUTBOX_FIELDS}
        times = {name: _when(item[name]) for name in _OUTBOX_TIMES}
        if fields["status"] in _WAITING and held >= MAX_HELD:
            # At most MAX_HELD notifications waiting to be sent come to be sent from here (review finding 16): the
            # rest arrive as dead letters the owner can replay.
            fields["status"] = OutboxItem.Status.FAILED
            fields["last_error"] = f"Not sent after the move: more than {MAX_HELD} were waiting."
            times["next_attempt_at"] = None
        elif fields["status"] in _WAITING:
            held += 1
            fields["status"] = OutboxItem.Status.PENDING
            times["next_attempt_at"] = HELD
        created.append(_when(item["created_at"]))
        items.append(
            OutboxItem(
                grant=grant,
                twin=twin,
                message_id=item["message_id"],
                **fields,
                **times,
            )
        )
    if OutboxItem.objects.filter(message_id__in=[item.message_id for item in items]).exists():
        raise PackageError("A notification of this thing is already in this instance's outbox.")
    made = OutboxItem.objects.bulk_create(items, batch_size=500)
    # created_at is automatic (bulk_create stamped now): the source's times back, in one UPDATE per batch.
    for row, at in zip(made, created, strict=True):
        row.created_at = at
    OutboxItem.objects.bulk_update(made, ["created_at"], batch_size=500)
    _restore_introductions(data.get("introductions") or [], arrival)


def _restore_introductions(items: list[dict[str, Any]], arrival: Arrival) -> None:
    for item in items:
        party = arrival.lookup(CONNECTION, item["party_connection"])
        if party is None:
            continue  # the party's connection did not come along (no "didcomm" part): nothing to go on with
        if Introduction.objects.filter(thread_id=item["thread_id"]).exists():
            raise PackageError("An introduction of this thing is already on this instance.")
        intro = Introduction.objects.create(
            twin=arrival.twin,
            owner=arrival.owner,
            party_connection=party,
            owner_connection=arrival.lookup(CONNECTION, item["owner_connection"]),
            party_label=item["party_label"],
            asks_for=item["asks_for"],
            message=item["message"],
            thread_id=item["thread_id"],
            state=item["state"],
            invitation=item["invitation"],
            thing_gtin=item["thing_gtin"],
            thing_serial=item["thing_serial"],
            decided_at=_when(item["decided_at"]),
        )
        Introduction.objects.filter(pk=intro.pk).update(created_at=_when(item["created_at"]))


def on_arrived(event: events.TwinArrived) -> None:
    """TwinArrived, in the activation's transaction (a crash between the two would hold them for good): the
    notifications held since the restore are due now, from here."""
    OutboxItem.objects.filter(twin_id=event.twin_id, status=OutboxItem.Status.PENDING, next_attempt_at=HELD).update(
        next_attempt_at=timezone.now()
    )


def on_moved_away(event: events.TwinMovedAway) -> None:
    """TwinMovedAway, in the release's transaction: what still waited here goes out from the new host instead."""
    OutboxItem.objects.filter(
        twin_id=event.twin_id, status__in=(OutboxItem.Status.OPEN, OutboxItem.Status.PENDING)
    ).update(
        status=OutboxItem.Status.CANCELLED,
        next_attempt_at=None,
        last_error=f"the thing moved to {event.moved_to}: sent from there"[:300],
    )


def on_arrival_discarded(event: events.ArrivalDiscarded) -> None:
    """ArrivalDiscarded, in the discarding transaction (before the twin's rows go): the webhook endpoints the
    arrival copied for the owner go too: those its grants use that no grant of another thing uses. An endpoint the
    owner had already, which the package was matched to by URL and secret, is used by the grants of the thing it
    came with first (a secret is never chosen by a person: only a copy has it), and one the owner has used for
    another thing since is theirs now: both stay. (An endpoint whose first thing was deleted here since, orphaned,
    and then matched again would go; there is no record of which arrival made which copy.)"""
    used = Grant.objects.filter(twin_id=event.twin_id, endpoint__isnull=False).values("endpoint_id")
    for_another = Grant.objects.filter(endpoint_id=OuterRef("pk")).exclude(twin_id=event.twin_id)
    WebhookEndpoint.objects.filter(owner_id=event.owner_id, pk__in=used).exclude(Exists(for_another)).delete()


register(
    Part(
        name="sharing",
        export=export,
        restore=_restore,
        after=("twin", "didcomm"),
        what="grants and notifications",
        replaces=("sharing.Grant", "sharing.OutboxItem", "sharing.Introduction"),
    )
)
# Here rather than in apps.py: the move's share of sharing in one module (autodiscovered in TwinsConfig.ready).
events.subscribe(events.TwinArrived, on_arrived, in_transaction=True)
events.subscribe(events.TwinMovedAway, on_moved_away, in_transaction=True)
events.subscribe(events.ArrivalDiscarded, on_arrival_discarded, in_transaction=True)
