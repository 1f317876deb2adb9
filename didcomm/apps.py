from django.apps import AppConfig


class DidcommConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "didcomm"
    verbose_name = "DIDComm"
