from django.apps import AppConfig


class OwnersConfig(AppConfig):
    name = "owners"
    verbose_name = "Owners"

    def ready(self) -> None:
        from owners import recent_auth  # noqa: F401  (connects the login-time receiver)
