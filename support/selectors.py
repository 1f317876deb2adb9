"""Reads of support cases, scoped to the viewer: a case that is not theirs is a 404, never a 403."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from makers.models import Organisation
from owners.models import Owner
from support.models import Case, CaseMessage
from twins.models import Twin


def cases_of_twin(*, viewer: Owner, twin: Twin) -> QuerySet[Case]:
    """The viewer's own cases about one of their things."""
    if not getattr(viewer, "is_authenticated", False):
        return Case.objects.none()
    return Case.objects.filter(side=Case.Side.OWNER, twin=twin, owner=viewer)


def case_get_for_owner(*, viewer: Owner, case_id: str) -> Case:
    """A case the viewer opened (theirs to read even after the thing changed hands)."""
    case = None
    if getattr(viewer, "is_authenticated", False):
        case = (
            Case.objects.select_related("twin", "connection__agent", "owner")
            .filter(side=Case.Side.OWNER, owner=viewer, public_id=case_id)
            .first()
        )
    if case is None:
        raise Http404("No such case.")
    return case


def case_get_for_organisation(*, organisation: Organisation, case_id: str) -> Case:
    case = (
        Case.objects.select_related("organisation", "model", "assignee", "connection")
        .filter(side=Case.Side.PARTY, organisation=organisation, public_id=case_id)
        .first()
    )
    if case is None:
        raise Http404("No such case.")
    return case


@dataclass(frozen=True)
class QueueFilters:
    status: str = ""
    gtin: str = ""
    assignee: str = ""  # "me", "nobody", or ""


def queue(*, organisation: Organisation, viewer: Owner, filters: QueueFilters | None = None) -> QuerySet[Case]:
    """The organisation's cases, newest activity first, narrowed by status, model (GTIN) and assignee."""
    filters = filters or QueueFilters()
    qs = Case.objects.filter(side=Case.Side.PARTY, organisation=organisation).select_related("model", "assignee")
    if filters.status in Case.Status.values:
        qs = qs.filter(status=filters.status)
    if filters.gtin:
        qs = qs.filter(model__gtin=filters.gtin)
    if filters.assignee == "me":
        qs = qs.filter(assignee=viewer)
    elif filters.assignee == "nobody":
        qs = qs.filter(assignee__isnull=True)
    return qs.order_by("-updated_at", "-id")


def case_messages(case: Case) -> QuerySet[CaseMessage]:
    return case.messages.select_related("outbound").order_by("created_at", "id")


def pending_ask(case: Case) -> CaseMessage | None:
    """The party's ask the owner has not answered yet (provide or decline after it), if any."""
    ask = (
        case.messages.filter(kind=CaseMessage.Kind.ASK, incoming=case.side == Case.Side.OWNER)
        .order_by("-created_at", "-id")
        .first()
    )
    if ask is None:
        return None
    answered = case.messages.filter(
        kind__in=[CaseMessage.Kind.PROVIDE, CaseMessage.Kind.DECLINE], created_at__gte=ask.created_at
    ).exists()
    return None if answered else ask


def cases_of_owner(*, viewer: Owner) -> QuerySet[Case]:
    """Every case the viewer opened, newest activity first."""
    if not getattr(viewer, "is_authenticated", False):
        return Case.objects.none()
    return Case.objects.filter(side=Case.Side.OWNER, owner=viewer).select_related("twin").order_by("-updated_at", "-id")


def queues_of(*, viewer: Owner) -> list[dict]:
    """The organisations the viewer is a member of, each with its count of unresolved cases."""
    if not getattr(viewer, "is_authenticated", False):
        return []
    rows = (
        Organisation.objects.filter(memberships__owner=viewer)
        .annotate(
            unresolved=Count(
                "support_cases", filter=Q(support_cases__side=Case.Side.PARTY) & ~Q(support_cases__status="resolved")
            )
        )
        .order_by("name", "id")
    )
    return [{"organisation": row, "unresolved": row.unresolved} for row in rows]
