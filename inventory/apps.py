import importlib

from django.apps import AppConfig

# Each part of the app wires itself (panels, links, demo steps) in its module's connect(), once the registry is ready.
PARTS: tuple[str, ...] = ()


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        for name in PARTS:
            importlib.import_module(name).connect()
