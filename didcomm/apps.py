from django.apps import AppConfig


class DidcommConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "didcomm"
    verbose_name = "DIDComm"

    def ready(self) -> None:
        from core.nav import PROFILE, NavLink, register_nav
        from didcomm import outbox, selectors
        from twins import events, panels

        # After a transfer commits, the twin's peers learn fresh pairwise keys (RFC 0794 DID rotate).
        events.subscribe(events.Transferred, outbox.on_transferred)
        register_nav(NavLink("Connections", "owner-connections", PROFILE))
        panels.register_link(panels.Link("Connections", "thing-connections", panels.HEADER))
        panels.register_panel(
            panels.Panel("agent", "didcomm/_panel_agent.html", panels.AFTER_PUBLIC, 10, selectors.thing_agent_panel)
        )
