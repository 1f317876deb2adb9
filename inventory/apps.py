"""Inventory basics: search, nested locations and labels, to find and group one's things."""

import importlib

from django.apps import AppConfig

# Each part of the app wires itself (panels, links, demo steps) in its module's connect(), once the registry is ready.
PARTS: tuple[str, ...] = (
    "inventory.search",
    "inventory.locations",
    "inventory.labels",
    "inventory.moving",
    "inventory.pages",
    "inventory.demo",
)


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        for name in PARTS:
            importlib.import_module(name).connect()
