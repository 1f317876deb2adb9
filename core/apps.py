from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Infrastructure that knows no feature: rate limits, Redis, errors, middleware, live push, QR, SQL, vault."""

    name = "core"
    verbose_name = "Core"
