from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "sharing"
    verbose_name = "Sharing"

    def ready(self) -> None:
        # Each part registers its own subscribers, handlers, panels and nav links from a function of its module,
        # called here (one line per part).
        pass
