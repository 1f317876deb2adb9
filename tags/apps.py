from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "tags"
    verbose_name = "Tags"

    def ready(self) -> None:
        from django.core import checks
        from django.db.models import Count, Q

        from core.nav import VISITOR, NavLink, register_nav
        from tags import history, public_cache, selectors  # public_cache connects the page-cache receivers
        from tags.services import demo_sticker
        from twins import panels
        from twins.demo import register_demo_step
        from twins.history import register_catch_up, register_catch_up_probe, register_redactor
        from twins.models import HistoryEntry

        del public_cache
        # Scans enter the history after the fact; removing scan entries before a sale removes the scan log too.
        register_catch_up(history.pending_scans)
        register_catch_up_probe(history.pending_scans, history.PENDING_PROBE)
        register_redactor(HistoryEntry.Kind.SCAN, history.scans_remove)
        panels.register_panel(
            panels.Panel("tags", "tags/_panel_tags.html", panels.AFTER_JOURNAL, 10, selectors.thing_tags_panel)
        )
        panels.register_panel(
            panels.Panel("scans", "tags/_panel_scans.html", panels.AFTER_PUBLIC, 20, selectors.thing_scans_panel)
        )
        register_demo_step(demo_sticker)
        register_nav(NavLink("Enter a tag code", "tag-enter", VISITOR))
        panels.register_list_annotation("tag_count", lambda: Count("tags", filter=Q(tags__status="active")))
        from tags.nfc_checks import weak_sun_keys_check

        checks.register(weak_sun_keys_check, checks.Tags.security, checks.Tags.database, deploy=True)
        from tags import nfc
        from twins import events

        # In the transfer's transaction: the sale and "the seller knew these keys" commit together.
        events.subscribe(events.Transferred, nfc.on_transferred, in_transaction=True)
        from tags import public_cache

        # A move's freeze or thaw: the finder's kept page goes now and again once it commits (a finder who read the
        # thing before the commit may have kept it meanwhile).
        for in_transaction in (True, False):
            events.subscribe(events.LeavingChanged, public_cache.on_leaving_changed, in_transaction=in_transaction)
        from tags import list_filter

        list_filter.connect()  # ?tagged= on the things list
        from core.periodic import register_periodic
        from tags import scan_buffer

        register_periodic("tags.scan_stranded", scan_buffer.STRANDED_EVERY_SECONDS, scan_buffer.flush_stranded)
