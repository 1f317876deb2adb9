from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Ingestion"

    def ready(self) -> None:
        from core.nav import OWNER, NavLink, register_nav
        from ingest import transfer
        from ingest.history import pending_items
        from ingest.models import PendingReadings
        from twins import panels
        from twins.history import register_catch_up, register_catch_up_probe

        # Every append to a thing's history first takes its pending ingested readings (ingest.history); whether a
        # thing has any is asked with the heads of its history (PostgreSQL).
        register_catch_up(pending_items)
        register_catch_up_probe(
            pending_items,
            f"EXISTS (SELECT 1 FROM {PendingReadings._meta.db_table} p WHERE p.twin_id = t.id)",  # noqa: S608
        )
        register_nav(NavLink("Sources", "sources", OWNER))
        panels.register_link(panels.Link("Device keys", "device-keys", panels.READINGS))
        # A sale unlinks the seller's sources from the thing (ingest.transfer).
        transfer.connect()
