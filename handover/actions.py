"""The cards page's whole-selection action "Transfer to one buyer": the selection goes to the handover's
confirmation page, which shows what stands in the way before anything is written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from bulk.actions import BulkAction, register_action
from core.errors import error_response
from handover.services import MAX_THINGS


def transfer_selection(request: HttpRequest, twins: QuerySet, params: Mapping[str, Any]) -> HttpResponse:
    """`twins` is the owner's selection (their own things only, bulk.selection)."""
    slugs = list(twins.values_list("slug", flat=True)[: MAX_THINGS + 1])
    if not slugs:
        return error_response(request, 400, "Choose at least one thing to transfer.")
    if len(slugs) > MAX_THINGS:
        return error_response(
            request,
            400,
            f"A transfer to one buyer takes at most {MAX_THINGS} things. Narrow the selection (a filter or fewer "
            "ticks), or make several handovers.",
        )
    return redirect(f"{reverse('handover-new')}?{urlencode([('thing', slug) for slug in slugs])}")


def connect() -> None:
    register_action(
        BulkAction(
            key="transfer",
            label="Transfer to one buyer",
            whole=transfer_selection,
            confirm=True,
            order=900,
            question="Transfer {things} to one buyer, all at once?",
        )
    )
