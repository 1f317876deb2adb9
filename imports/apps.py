import importlib

from django.apps import AppConfig

# Each part wires itself (actions, list sections, filters, demo steps) in its module's connect(), once the registry
# is ready.
PARTS: tuple[str, ...] = ("imports.export", "imports.cards")


class ImportsConfig(AppConfig):
    name = "imports"
    verbose_name = "Import and export"

    def ready(self) -> None:
        for part in PARTS:
            importlib.import_module(part).connect()
