from django.apps import AppConfig


class DidcommConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "didcomm"
    verbose_name = "DIDComm"

    def ready(self) -> None:
        from core.nav import PROFILE, NavLink, register_nav
        from didcomm import dispatch, issue_credential, moving, outbox, redaction, selectors
        from ssi import issue_credential as ic
        from twins import events, panels
        from twins.history import register_redactor
        from twins.models import HistoryEntry

        # After a transfer commits, the twin's peers learn fresh pairwise keys (RFC 0794 DID rotate).
        events.subscribe(events.Transferred, outbox.on_transferred)
        # Removing "Agent message" entries before a sale removes the seller's words behind them (didcomm.redaction).
        register_redactor(HistoryEntry.Kind.MESSAGE, redaction.messages_remove)
        # A move to another instance: there, the peers learn DIDs naming it; here, the agent stops with the release.
        events.subscribe(events.TwinArrived, moving.on_arrived)
        events.subscribe(events.TwinMovedAway, moving.on_moved_away, in_transaction=True)
        # RFC 0453 issue-credential 2.0, issuer side: the holder's answers to an offer.
        dispatch.register_handler(ic.REQUEST, issue_credential.request_receive)
        dispatch.register_handler(ic.ACK, issue_credential.ack_receive)
        dispatch.register_handler(ic.PROBLEM_REPORT, issue_credential.problem_report_receive)
        register_nav(NavLink("Connections", "owner-connections", PROFILE))
        panels.register_link(panels.Link("Connections", "thing-connections", panels.HEADER))
        panels.register_panel(
            panels.Panel("agent", "didcomm/_panel_agent.html", panels.AFTER_PUBLIC, 10, selectors.thing_agent_panel)
        )
