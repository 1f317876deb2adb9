from django.apps import AppConfig


class FirmwareConfig(AppConfig):
    name = "firmware"
    verbose_name = "Firmware"

    def ready(self) -> None:
        from firmware.panel import connect
        from makers.links import ModelLink, register_model_link

        connect()
        register_model_link(ModelLink(label="Firmware", url_name="firmware-releases"))
