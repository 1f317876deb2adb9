from django.apps import AppConfig


class TwinsConfig(AppConfig):
    name = "twins"
    verbose_name = "Twins"

    def ready(self) -> None:
        from datetime import timedelta

        from core.periodic import register_periodic
        from owners.next_context import register_next_describer
        from twins import listing, not_live, partitions, portability
        from twins.history import register_redactor
        from twins.models import HistoryEntry
        from twins.parts import register_parts
        from twins.services import notes_remove, readings_remove
        from twins.transfer_views import offer_next_context

        # Removing readings or notes from the history before a sale removes the rows behind them too.
        register_redactor(HistoryEntry.Kind.READING, readings_remove)
        register_redactor(HistoryEntry.Kind.NOTE, notes_remove)
        # A transfer offer's link opened signed out: the login and sign-up pages say what waits behind them.
        register_next_describer(offer_next_context)
        # PostgreSQL: next months' readings partitions exist before their first reading (twins.partitions; each
        # worker runs it, under an advisory lock; `manage.py reading_partitions` does the same by hand).
        register_periodic("twins.reading_partitions", timedelta(hours=6), partitions.ensure_reading_partitions)
        # Moving a twin to another instance: the twins app's own share of the package (twins.parts), then every
        # other app's (<app>/portability.py).
        register_parts()
        portability.autodiscover()
        # The owner's things that moved to another host or are still arriving, above the cards (twins.not_live).
        listing.register_section("10-twins.moved", not_live.moved_section)
