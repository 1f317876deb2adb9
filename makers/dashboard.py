"""The manufacturer's dashboard numbers: what the page (/orgs/<slug>/dashboard) and the API
(/api/orgs/<slug>/dashboard/) show, computed in one place so they cannot disagree.

Privacy rule (SECURITY, issue 12): nothing here names an owner who is not connected to the organisation. Reach
and acknowledgements of unconnected owners are counts; a connected owner appears (by the label of the DIDComm
connection they made with the organisation's agent) only once they acknowledged. No owner id, username, email or
twin slug of a claimed thing is ever part of these numbers.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, Sum

from didcomm.models import Connection
from makers import recalls
from makers.models import Organisation, ProductModel, Recall, RecallNotice
from sharing.models import Introduction, ReceivedNotification


def model_counts(organisation: Organisation) -> list[dict[str, Any]]:
    """Per product model: things produced, and claimed (no longer held by the organisation's account)."""
    rows = (
        ProductModel.objects.filter(organisation=organisation)
        .annotate(
            produced=Count("things", distinct=True),
            claimed=Count("things", filter=~Q(things__twin__owner_id=organisation.account_id), distinct=True),
        )
        .order_by("name", "id")
    )
    return [{"gtin": m.gtin, "name": m.name, "produced": m.produced, "claimed": m.claimed} for m in rows]


def connection_counts(organisation: Organisation) -> dict[str, int]:
    """Connections the organisation's agent has (completed: owners who accepted an introduction or connected),
    and introductions owners declined. Declines are counted only where the introducing twin lives on this
    instance (sharing.models.Introduction whose party connection is with our agent); a decline elsewhere tells
    the organisation nothing, by design."""
    agent = recalls.organisation_agent(organisation)
    if agent is None:
        return {"accepted": 0, "declined": 0}
    accepted = Connection.objects.filter(agent=agent, state=Connection.State.COMPLETED).count()
    our_keys = Connection.objects.filter(agent=agent).exclude(my_verkey="").values("my_verkey")
    declined = Introduction.objects.filter(
        state=Introduction.State.DECLINED, party_connection__their_verkey__in=our_keys
    ).count()
    return {"accepted": accepted, "declined": declined}


def received_counts(organisation: Organisation) -> list[dict[str, Any]]:
    """Permitted notifications received by the organisation's agent, per data kind: messages and items."""
    agent = recalls.organisation_agent(organisation)
    if agent is None:
        return []
    rows = (
        ReceivedNotification.objects.filter(connection__agent=agent)
        .values("kind")
        .annotate(messages=Count("id"), items=Sum("count"))
        .order_by("kind")
    )
    return [{"kind": r["kind"], "messages": r["messages"], "items": r["items"] or 0} for r in rows]


def recall_reach(recall: Recall) -> dict[str, Any]:
    """How far one recall got, in counts, and who acknowledged among the connected owners.

    - affected: things the recall covers (the organisation's unclaimed ones included), as of the fan-out;
    - notified_things / notified_owners: things whose owner got it in the inbox, and how many owners;
    - connected: DIDComm notices sent to connected owners (one per connection and thing);
    - acknowledged: things acknowledged (locally or over DIDComm), plus DIDComm acks for things on other
      instances (which have no RecallNotice);
    - acknowledged_by: the connected owners who acknowledged (label, thing DID, when).
    """
    notices = RecallNotice.objects.filter(recall=recall).aggregate(
        things=Count("id"),
        owners=Count("owner", distinct=True),
        acknowledged=Count("id", filter=Q(acknowledged_at__isnull=False)),
    )
    acks = recalls.acknowledgements(recall)
    local_dids = set(
        RecallNotice.objects.filter(recall=recall, twin__did__in=[a["thing"] for a in acks if a["thing"]]).values_list(
            "twin__did", flat=True
        )
    )
    remote_acks = sum(1 for ack in acks if ack["thing"] not in local_dids)
    return {
        "id": recall.pk,
        "title": recall.title,
        "severity": recall.severity,
        "gtin": recall.model.gtin,
        "model": recall.model.name,
        "scope": recalls.recall_scope_text(recall),
        "created_at": recall.created_at,
        "fanned_out_at": recall.fanned_out_at,
        "affected": recall.affected,
        "notified_things": notices["things"],
        "notified_owners": notices["owners"],
        "connected": recalls.notices_sent(recall).count(),
        "acknowledged": notices["acknowledged"] + remote_acks,
        "acknowledged_by": acks,
    }


def dashboard(organisation: Organisation) -> dict[str, Any]:
    models = model_counts(organisation)
    return {
        "organisation": {"slug": organisation.slug, "name": organisation.name},
        "models": models,
        "produced": sum(m["produced"] for m in models),
        "claimed": sum(m["claimed"] for m in models),
        "connections": connection_counts(organisation),
        "received": received_counts(organisation),
        "recalls": [
            recall_reach(recall)
            for recall in Recall.objects.filter(organisation=organisation).select_related("model")[:50]
        ],
    }
