import importlib

from django.apps import AppConfig

# Each part wires itself (panels, reminders, demo steps) in its module's connect(), once the registry is ready.
PARTS: tuple[str, ...] = (
    "upkeep.warranty",
    "upkeep.attachments",
    "upkeep.maintenance",
    "upkeep.reminders",
    "upkeep.panels",
    "upkeep.demo",
)


class UpkeepConfig(AppConfig):
    name = "upkeep"
    verbose_name = "Upkeep"

    def ready(self) -> None:
        for name in PARTS:
            importlib.import_module(name).connect()
