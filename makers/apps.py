from django.apps import AppConfig


class MakersConfig(AppConfig):
    name = "makers"
    verbose_name = "Makers"

    def ready(self) -> None:
        # Each part registers its own subscribers, handlers, panels and nav links from a function of its module,
        # called here (one line per part).
        pass
