from django.apps import AppConfig


class TwinsConfig(AppConfig):
    name = "twins"
    verbose_name = "Twins"

    def ready(self) -> None:
        from twins.history import register_redactor
        from twins.models import HistoryEntry
        from twins.services import notes_remove, readings_remove

        # Removing readings or notes from the history before a sale removes the rows behind them too.
        register_redactor(HistoryEntry.Kind.READING, readings_remove)
        register_redactor(HistoryEntry.Kind.NOTE, notes_remove)
