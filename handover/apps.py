import importlib

from django.apps import AppConfig

# Each part wires itself (actions, list sections, filters, demo steps) in its module's connect(), once the registry
# is ready.
PARTS: tuple[str, ...] = ("handover.actions", "handover.guards", "handover.login_context", "handover.pages")


class HandoverConfig(AppConfig):
    name = "handover"
    verbose_name = "Handover"

    def ready(self) -> None:
        for part in PARTS:
            importlib.import_module(part).connect()
