import importlib

from django.apps import AppConfig

# Each part of the app wires itself (event subscribers, DIDComm handlers, panels, nav links, demo steps) in its
# module's connect(), called once the app registry is ready.
PARTS = ("sharing.grants", "sharing.delivery", "sharing.introductions")


class SharingConfig(AppConfig):
    name = "sharing"
    verbose_name = "Sharing"

    def ready(self) -> None:
        for name in PARTS:
            importlib.import_module(name).connect()
