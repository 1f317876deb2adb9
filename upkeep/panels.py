"""The upkeep sections of a thing's private page (twins.panels): purchase and warranty with the files, and the
maintenance schedules. The purchase panel is the owner's; the maintenance panel shows to a keeper who may open the page
(twins.access.VIEW), as the maintenance list at /things/<slug>/maintenance/ does."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from twins import access, panels
from upkeep import attachments, maintenance, warranty
from upkeep.forms import AttachmentForm


def purchase_context(request: HttpRequest, twin: Any) -> dict[str, Any]:
    purchase = warranty.purchase_of(twin)
    today = timezone.localdate()
    days_left = (purchase.warranty_ends - today).days if purchase and purchase.warranty_ends else None
    return {
        "upkeep_purchase": purchase,
        "upkeep_warranty_days": days_left,
        "upkeep_warranty_soon": days_left is not None and 0 <= days_left <= warranty.WARRANTY_LEAD.days,
        "upkeep_attachments": list(attachments.attachment_list(twin=twin)[:20]),
        "upkeep_attachment_form": AttachmentForm(),
    }


def maintenance_context(request: HttpRequest, twin: Any) -> dict[str, Any]:
    return {"upkeep_schedules": list(maintenance.schedule_list(twin=twin)[:20]), "upkeep_today": timezone.localdate()}


def connect() -> None:
    panels.register_panel(
        panels.Panel(
            "upkeep-maintenance",
            "upkeep/_panel_maintenance.html",
            panels.AFTER_JOURNAL,
            40,
            maintenance_context,
            # A keeper who may open the page sees the schedules (the maintenance list needs VIEW too).
            needs=access.VIEW,
        )
    )
    panels.register_panel(
        panels.Panel("upkeep-purchase", "upkeep/_panel_purchase.html", panels.AFTER_JOURNAL, 41, purchase_context)
    )
