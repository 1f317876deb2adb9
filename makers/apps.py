import importlib

from django.apps import AppConfig

# Each part of the app wires itself (event subscribers, DIDComm handlers, panels, nav links, demo steps) in its
# module's connect(), called once the app registry is ready.
PARTS = (
    "makers.orgs",
    "makers.production",
    "makers.recalls",
    "makers.introduce",
    "makers.demo",
    "makers.authenticity",
    "makers.authenticity_demo",
)


class MakersConfig(AppConfig):
    name = "makers"
    verbose_name = "Makers"

    def ready(self) -> None:
        for name in PARTS:
            importlib.import_module(name).connect()
