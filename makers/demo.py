"""The makers' part of the demo data (`load_demo`): the demo owner runs a small manufacturer, "Acme Grinders",
with one product model and three boxed, unclaimed grinders, so the organisation pages, the dashboard, production
and the GS1 Digital Link resolver have something to show."""

from __future__ import annotations

from typing import Any

from makers import orgs, production
from makers.models import Organisation
from twins.demo import register_demo_step

DEMO_SLUG = "acme-demo"
DEMO_GTIN = "09506000134352"  # GS1's own example GTIN
DEMO_SERIALS = ["DEMO-0001", "DEMO-0002", "DEMO-0003"]


def demo_manufacturer(twin: Any) -> None:
    """twins.demo step: once, along with the demo's coffee grinder."""
    if twin.icon != "coffee" or Organisation.objects.filter(slug=DEMO_SLUG).exists():
        return
    organisation = orgs.organisation_create(
        slug=DEMO_SLUG,
        name="Acme Grinders",
        admin=twin.owner,
        description="A demo manufacturer: its grinders are made here and claimed by their buyers.",
    )
    model = production.model_create(
        organisation=organisation,
        name="Acme Burr Grinder",
        gtin=DEMO_GTIN,
        icon="coffee",
        reading_kinds=[{"kind": "grind", "unit": "setting"}],
    )
    production.produce(model=model, serials=DEMO_SERIALS, by=twin.owner)


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready)."""
    register_demo_step(demo_manufacturer)
