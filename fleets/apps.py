import importlib

from django.apps import AppConfig

# Each part wires itself (actions, list sections, filters, demo steps) in its module's connect(), once the registry
# is ready.
PARTS: tuple[str, ...] = ("fleets.services", "fleets.cards", "fleets.actions", "fleets.pages", "fleets.demo")


class FleetsConfig(AppConfig):
    name = "fleets"
    verbose_name = "Fleets"

    def ready(self) -> None:
        for part in PARTS:
            importlib.import_module(part).connect()
