import importlib

from django.apps import AppConfig

# Each part wires itself (actions, list sections, filters, demo steps) in its module's connect(), once the registry
# is ready.
PARTS: tuple[str, ...] = ("bulk.builtin", "bulk.section")


class BulkConfig(AppConfig):
    name = "bulk"
    verbose_name = "Bulk actions"

    def ready(self) -> None:
        for part in PARTS:
            importlib.import_module(part).connect()
