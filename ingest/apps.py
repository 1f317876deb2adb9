from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Ingestion"

    def ready(self) -> None:
        from ingest.history import pending_items
        from twins.history import register_catch_up

        # Every append to a thing's history first takes its pending ingested readings (ingest.history).
        register_catch_up(pending_items)
